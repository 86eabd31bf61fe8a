"""raven 6.10's ``SentryDjangoHandler``: what the app connects to Django's signals when it is
ready (unless ``DISABLE_SENTRY_INSTRUMENTATION`` is set), and Celery's handlers when Celery is
installed.

- ``got_request_exception`` (an exception escaped a view or a middleware; Django then answers
  500): the exception is captured with the request and its user. ``ignore_exceptions`` is
  honoured (the client's ``should_capture``); an exception already captured by this client (by
  the ``django.request`` logger's ``SentryHandler``, or a second handler) is not sent twice.
- ``request_started``: the client's context receives the request's breadcrumbs.
- ``request_finished``: the client's context (tags, extra, user, breadcrumbs set during the
  request) is cleared, so the next request served by the thread starts clean. raven 6.10 left
  it in place, and one request's tags and breadcrumbs reached the next request's events.

A failure inside a receiver is logged on ``sentry.errors``, never raised into the request.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception, request_finished, request_started

__all__ = ("SentryDjangoHandler", "sentry_exception_handler")

logger = logging.getLogger("sentry.errors.client")


def _default_client() -> Any:
    from raven.contrib.django.models import client

    return client


def _capture_request_exception(client: Any, request: Any) -> None:
    try:
        client.captureException(exc_info=sys.exc_info(), request=request)
    except Exception as exc:
        try:
            logger.exception("Unable to process log entry: %s", exc)
        except Exception as inner:
            warnings.warn(f"Unable to process log entry: {inner}", stacklevel=2)


def sentry_exception_handler(request: Any = None, **kwargs: Any) -> None:
    """A ``got_request_exception`` receiver using the settings' client (raven 6.10's)."""
    _capture_request_exception(_default_client(), request)


def _celery_version() -> Any:
    try:
        import celery
    except ImportError:
        return None
    return getattr(celery, "VERSION", None)


class SentryDjangoHandler:
    def __init__(self, client: Any = None) -> None:
        self.client = client if client is not None else _default_client()
        version = _celery_version()
        self.has_celery = version is not None and tuple(version[:2]) >= (2, 5)
        self.celery_handler: Any = None

    def install_celery(self) -> None:
        """Report Celery task failures through this client (``raven.contrib.celery``)."""
        from raven.contrib.celery import SentryCeleryHandler

        ignore_expected = getattr(settings, "SENTRY_CELERY_IGNORE_EXPECTED", False)
        handler = SentryCeleryHandler(self.client, ignore_expected=ignore_expected)
        handler.install()
        # Kept, so uninstall() removes it (raven 6.10 kept install()'s None and never did).
        self.celery_handler = handler

    def install(self) -> None:
        request_started.connect(self.before_request, weak=False)
        request_finished.connect(self.after_request, weak=False)
        got_request_exception.connect(self.exception_handler, weak=False)
        if self.has_celery:
            try:
                self.install_celery()
            except Exception:
                logger.debug("Sentry: Celery's handlers not installed", exc_info=True)

    def uninstall(self) -> None:
        request_started.disconnect(self.before_request)
        request_finished.disconnect(self.after_request)
        got_request_exception.disconnect(self.exception_handler)
        if self.celery_handler is not None:
            try:
                self.celery_handler.uninstall()
            except Exception:
                logger.debug("Sentry: Celery's handlers not uninstalled", exc_info=True)

    def exception_handler(self, request: Any = None, **kwargs: Any) -> None:
        _capture_request_exception(self.client, request)

    def before_request(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.client.context.activate()
        except Exception:
            logger.debug("Sentry: context not activated", exc_info=True)

    def after_request(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.client.context.clear()
        except Exception:
            logger.debug("Sentry: context not cleared", exc_info=True)
