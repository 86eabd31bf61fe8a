"""raven 6.10's ``raven.utils.serializer``: a re-export of :mod:`.base` (``Serializer``, the base
class of custom serializers) and :mod:`.manager` (``register``, ``transform``)."""

from __future__ import annotations

from raven.utils.serializer.base import Serializer
from raven.utils.serializer.manager import register, transform

__all__ = ("Serializer", "register", "transform")
