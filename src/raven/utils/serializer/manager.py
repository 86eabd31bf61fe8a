"""raven 6.10's serializer registry: ``register(SerializerClass)`` and ``transform(value, **limits)``.

``transform`` turns a value into raven 6.10's "repr" form (strings quoted, numbers as text,
containers walked with ``list_max_length`` / ``string_max_length`` / ``max_depth``), trying the
registered serializers in order (see :mod:`raven.utils.serializer.base`); integrations register
their own for framework types. Cycles become ``'<...>'``; a serializer that fails, or a value
whose ``repr`` fails, gives the value's type as text. It never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

__all__ = ("register", "transform")

logger = logging.getLogger("sentry.errors.serializer")


class SerializationManager:
    """The ordered list of serializer classes; the first whose ``can(value)`` is true wins."""

    logger = logger

    def __init__(self) -> None:
        self._registry: list[type] = []

    @property
    def serializers(self) -> Iterator[type]:
        yield from self._registry

    def register(self, serializer: type) -> type:
        """Add a serializer class (once); usable as a class decorator."""
        if serializer not in self._registry:
            self._registry.append(serializer)
        return serializer


class Serializer:
    """One transformation: an instance of each registered serializer, and the ids being walked."""

    logger = logger

    def __init__(self, manager: SerializationManager) -> None:
        self.manager = manager
        self.context: set[int] = set()
        self.serializers: list[Any] = [cls(self) for cls in manager.serializers]

    def close(self) -> None:
        self.serializers = []
        self.context = set()

    def transform(self, value: Any, **kwargs: Any) -> Any:
        """``value`` through the first serializer that can take it, else its ``repr``."""
        if value is None:
            return None
        key = id(value)
        if key in self.context:
            return "<...>"
        self.context.add(key)
        try:
            for serializer in self.serializers:
                try:
                    if serializer.can(value):
                        return serializer.serialize(value, **kwargs)
                except Exception:
                    logger.exception("serializer %s failed", type(serializer).__name__)
                    return str(type(value))
            try:
                return repr(value)
            except Exception:
                # A broken __repr__ (a lazy object whose database query fails, say).
                logger.exception("repr() failed on a %s", type(value).__name__)
                return str(type(value))
        finally:
            self.context.discard(key)


manager = SerializationManager()
register = manager.register


def transform(value: Any, manager: SerializationManager = manager, **kwargs: Any) -> Any:
    """``value`` in raven 6.10's serialized form; ``kwargs``: ``string_max_length``,
    ``list_max_length``, ``max_depth``."""
    serializer = Serializer(manager)
    try:
        return serializer.transform(value, **kwargs)
    finally:
        serializer.close()
