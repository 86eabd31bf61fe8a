"""``{% sentry_public_dsn %}`` for the ``raven_compat`` app
(:mod:`raven.contrib.django.templatetags.raven`)."""

from __future__ import annotations

from raven.contrib.django.templatetags.raven import register, sentry_public_dsn

__all__ = ("register", "sentry_public_dsn")
