"""``raven.contrib.django.handlers`` under the ``raven_compat`` name (for ``LOGGING``)."""

from __future__ import annotations

from raven.contrib.django.handlers import SentryHandler

__all__ = ("SentryHandler",)
