"""raven 6.10's Django integration: ``raven.contrib.django``.

Put ``'raven.contrib.django'`` (or raven 6.10's other name for it,
``'raven.contrib.django.raven_compat'``) in ``INSTALLED_APPS`` and the DSN in ``RAVEN_CONFIG``::

    INSTALLED_APPS = [..., 'raven.contrib.django.raven_compat']
    RAVEN_CONFIG = {'dsn': 'https://public@sentry.example.com/1', 'release': '1.0'}

When the app is ready (:mod:`.apps`) the request middleware is put in front of ``MIDDLEWARE``
and exceptions that escape a view are reported through Django's ``got_request_exception``
signal, with the request and the user (:mod:`.models`, :mod:`.client`).

What this package keeps from raven 6.10: every module path it had (``models``, ``client``,
``handlers``, ``middleware``, ``middleware.wsgi``, ``views``, ``urls``, ``templatetags.raven``,
``management.commands.raven``, ``serializers``, ``utils``, ``resolver``, ``celery``,
``logging``, and the ``raven_compat`` mirror), with their public names. Django is imported when
this package is, never by ``import raven``; without Django the import fails with an
``ImportError`` naming ``pip install 'raven-ng[django]'``.
"""

from __future__ import annotations

from raven.contrib._framework import require

require("django", "django", "raven.contrib.django")

from raven.contrib.django.client import DjangoClient  # noqa: E402

__all__ = ("DjangoClient", "default_app_config")

#: raven 6.10's pointer for Django < 3.2 (Django 3.2+ finds :mod:`.apps` by itself).
default_app_config = "raven.contrib.django.apps.RavenConfig"
