"""``raven.contrib.django.models`` under the ``raven_compat`` name: the same objects, the same names."""

from __future__ import annotations

from raven.contrib.django import models as _models
from raven.contrib.django.models import *  # noqa: F403

__all__ = _models.__all__
