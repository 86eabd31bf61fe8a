"""``raven.contrib.django.middleware`` under the ``raven_compat`` name (for ``MIDDLEWARE``): the
same classes, the same names."""

from __future__ import annotations

from raven.contrib.django import middleware as _middleware
from raven.contrib.django.middleware import *  # noqa: F403

__all__ = _middleware.__all__
