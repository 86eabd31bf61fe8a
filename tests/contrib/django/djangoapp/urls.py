from __future__ import annotations

from django.urls import include, path, re_path

from djangoapp import views

urlpatterns = [
    path("ok/", views.ok),
    path("items/<int:item_id>/boom/", views.boom),
    re_path(r"^legacy/(?P<slug>[\w-]+)/boom/$", views.boom),
    path("ignored/", views.ignored),
    path("template-error/", views.template_error),
    path("log/", views.log_error),
    path("message/", views.capture_message),
    path("dsn/", views.dsn),
    path("sentry/", include("raven.contrib.django.urls")),
]
