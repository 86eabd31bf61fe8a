"""``raven.contrib.django.models`` under the ``raven_compat`` name."""

from __future__ import annotations

from raven.contrib.django.models import (
    ProxyClient,
    SentryDjangoHandler,
    client,
    get_client,
    get_installed_apps,
    initialize,
    install_middleware,
    logger,
    register_serializers,
    sentry_exception_handler,
)

__all__ = (
    "ProxyClient",
    "SentryDjangoHandler",
    "client",
    "get_client",
    "get_installed_apps",
    "initialize",
    "install_middleware",
    "logger",
    "register_serializers",
    "sentry_exception_handler",
)
