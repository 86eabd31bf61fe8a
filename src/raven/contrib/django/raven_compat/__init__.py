"""raven 6.10's ``raven.contrib.django.raven_compat``: the Django integration under the name
raven's docs told to put in ``INSTALLED_APPS`` (it avoids a clash with an app labelled
``raven``). Every module mirrors the one of the same name in ``raven.contrib.django``.

Better than raven 6.10: this app has an ``AppConfig`` of its own (:mod:`.apps`) that sets the
integration up. raven 6.10 relied on ``default_app_config``, which Django 3.2 stopped reading, so
with this name in ``INSTALLED_APPS`` no exception was reported on current Django.
"""

from __future__ import annotations

from raven.contrib.django import DjangoClient, default_app_config

__all__ = ("DjangoClient", "default_app_config")
