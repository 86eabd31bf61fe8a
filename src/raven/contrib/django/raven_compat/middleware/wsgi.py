"""``raven.contrib.django.middleware.wsgi`` under the ``raven_compat`` name."""

from __future__ import annotations

from raven.contrib.django.middleware.wsgi import Sentry

__all__ = ("Sentry",)
