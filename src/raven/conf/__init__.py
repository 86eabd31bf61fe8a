"""Logging set-up helpers of raven 6.10: ``from raven.conf import setup_logging``."""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["setup_logging", "EXCLUDE_LOGGER_DEFAULTS"]

#: Loggers that should not go to Sentry (our own diagnostics among them: no loops).
EXCLUDE_LOGGER_DEFAULTS = (
    "raven",
    "gunicorn",
    "south",
    "sentry.errors",
    "django.request",
    "dill",
)


def setup_logging(handler: logging.Handler, exclude: Iterable[str] = EXCLUDE_LOGGER_DEFAULTS) -> bool:
    """Attach ``handler`` (a ``SentryHandler``) to the root logger.

    The loggers named in ``exclude`` stop propagating to the root and get a ``StreamHandler``
    instead, so their records still show somewhere. Returns False if a handler of the same class
    was already attached (nothing is changed), True otherwise.

    >>> from raven.handlers.logging import SentryHandler
    >>> setup_logging(SentryHandler('https://public@sentry.example.com/1'))
    """
    root = logging.getLogger()
    if handler.__class__ in (type(h) for h in root.handlers):
        return False
    root.addHandler(handler)
    for name in exclude:
        excluded = logging.getLogger(name)
        excluded.propagate = False
        excluded.addHandler(logging.StreamHandler())
    return True
