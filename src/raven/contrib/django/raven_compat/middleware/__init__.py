"""``raven.contrib.django.middleware`` under the ``raven_compat`` name (for ``MIDDLEWARE``)."""

from __future__ import annotations

from raven.contrib.django.middleware import (
    DjangoRestFrameworkCompatMiddleware,
    Sentry404CatchMiddleware,
    SentryLogMiddleware,
    SentryMiddleware,
    SentryResponseErrorIdMiddleware,
    is_ignorable_404,
)

__all__ = (
    "DjangoRestFrameworkCompatMiddleware",
    "Sentry404CatchMiddleware",
    "SentryLogMiddleware",
    "SentryMiddleware",
    "SentryResponseErrorIdMiddleware",
    "is_ignorable_404",
)
