"""raven 6.10's deprecated ``raven.contrib.django.logging``: the handler is
:class:`raven.contrib.django.handlers.SentryHandler` (importing this module warns)."""

from __future__ import annotations

import warnings

from raven.contrib.django.handlers import SentryHandler

warnings.warn(
    "raven.contrib.django.logging is deprecated. Use raven.contrib.django.handlers instead.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ("SentryHandler",)
