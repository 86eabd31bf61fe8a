"""raven 6.10's URLconf for the report endpoint (:func:`.views.report`)::

    urlpatterns = [..., path('sentry/', include('raven.contrib.django.urls'))]

``api/<project_id>/store/`` (named ``raven-report``) and ``report/``. raven 6.10 built them with
``django.conf.urls.url``, which Django 4.0 removed; these are the same patterns as ``re_path``.
"""

from __future__ import annotations

from django.urls import re_path

from raven.contrib.django import views

__all__ = ("urlpatterns",)

urlpatterns = [
    re_path(r"^api/(?P<project_id>[\w_-]+)/store/$", views.report, name="raven-report"),
    re_path(r"^report/", views.report),
]
