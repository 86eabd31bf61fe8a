"""raven 6.10's Django WSGI wrapper: :class:`raven.middleware.Sentry` whose client is the
Django integration's (``raven.contrib.django.models.client``, built from the settings on first
use), so ``wsgi.py`` needs no DSN::

    from django.core.wsgi import get_wsgi_application
    from raven.contrib.django.middleware.wsgi import Sentry

    application = Sentry(get_wsgi_application())

It reports what escapes Django's own handler (Django turns view errors into 500 responses, which
the ``got_request_exception`` signal reports), and keeps each request's context apart.
"""

from __future__ import annotations

from typing import Any

from raven.middleware import Sentry as _WSGISentry

__all__ = ("Sentry",)


class Sentry(_WSGISentry):
    def __init__(self, application: Any) -> None:
        self.application = application

    @property
    def client(self) -> Any:
        from raven.contrib.django.models import client

        return client
