"""raven 6.10's built-in serializers and their base class, registered in raven 6.10's order.

A serializer says which values it takes (``types``, or ``can(value)``) and how to turn one into a
JSON-safe value (``serialize(value, **kwargs)``), calling ``self.recurse`` for nested values.
The built-in ones give raven 6.10's forms: text as ``"'text'"``, bytes as ``"b'...'"``, numbers
and booleans as their ``repr``, lists/tuples/sets as tuples, dicts with serialized keys,
namedtuples as dicts, functions as ``'<function name from module at 0x...>'``, and objects with
a ``__sentry__()`` method as what it returns.

>>> from raven.utils.serializer import Serializer, register
>>> @register
... class MoneySerializer(Serializer):
...     types = (Money,)
...     def serialize(self, value, **kwargs):
...         return f"{value.amount} {value.currency}"
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterable
from typing import Any, Optional

from raven.utils.basic import is_namedtuple
from raven.utils.encoding import to_unicode
from raven.utils.serializer.manager import manager as serialization_manager

__all__ = ("Serializer",)

DEFAULT_MAX_DEPTH = 6


def has_sentry_metadata(value: object) -> bool:
    """True if ``value`` has a callable ``__sentry__`` attribute (its own serialized form)."""
    try:
        return callable(value.__getattribute__("__sentry__"))
    except Exception:
        return False


def _first(iterable: Iterable[Any], limit: Optional[int]) -> Iterable[Any]:
    # list_max_length of None or 0 means no limit.
    return itertools.islice(iterable, limit) if limit else iterable


class Serializer:
    """Base class of the serializers; ``manager`` is the running transformation."""

    types: tuple[Any, ...] = ()

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def can(self, value: Any) -> bool:
        """Whether this serializer takes ``value`` (default: an instance of ``types``)."""
        return isinstance(value, self.types)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        """``value`` in a JSON-safe form (the base class returns it unchanged)."""
        return value

    def recurse(self, value: Any, max_depth: int = DEFAULT_MAX_DEPTH, _depth: int = 0, **kwargs: Any) -> Any:
        """Serialize a nested value; at ``max_depth`` the value is replaced by its (cut) ``repr``."""
        _depth += 1
        if _depth >= max_depth:
            try:
                value = str(repr(value))[: kwargs.get("string_max_length")]
            except Exception:
                self.manager.logger.exception("repr() failed on a %s", type(value).__name__)
                return str(type(value))
        return self.manager.transform(value, max_depth=max_depth, _depth=_depth, **kwargs)


class NamedtupleSerializer(Serializer):
    """A namedtuple as a dict of its fields."""

    types = (tuple,)

    def can(self, value: Any) -> bool:
        return is_namedtuple(value)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        fields = value._asdict().items()
        return {k: self.recurse(v, **kwargs) for k, v in _first(fields, kwargs.get("list_max_length"))}


class IterableSerializer(Serializer):
    """Lists, tuples, sets and frozensets as a tuple of their first ``list_max_length`` items."""

    types = (tuple, list, set, frozenset)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return tuple(self.recurse(item, **kwargs) for item in _first(value, kwargs.get("list_max_length")))


class DictSerializer(Serializer):
    """A dict's first ``list_max_length`` items, keys and values serialized (keys made text)."""

    types = (dict,)

    def make_key(self, key: Any) -> Any:
        return key if isinstance(key, str) else to_unicode(key)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        items = _first(value.items(), kwargs.get("list_max_length"))
        return {self.make_key(self.recurse(k, **kwargs)): self.recurse(v, **kwargs) for k, v in items}


class UnicodeSerializer(Serializer):
    """Text, cut to ``string_max_length`` and put in single quotes (non-ASCII kept readable)."""

    types = (str,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return "'" + value[: kwargs.get("string_max_length")] + "'"


class StringSerializer(Serializer):
    """Bytes, cut to ``string_max_length``, as their ``repr`` (``"b'...'"``)."""

    types = (bytes,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return repr(value[: kwargs.get("string_max_length")])


class TypeSerializer(Serializer):
    """An object (not a class) with a ``__sentry__()`` method: what that method returns."""

    types = (type,)

    def can(self, value: Any) -> bool:
        return not super().can(value) and has_sentry_metadata(value)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return self.recurse(value.__sentry__(), **kwargs)


class BooleanSerializer(Serializer):
    types = (bool,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return repr(bool(value))


class FloatSerializer(Serializer):
    """Floats as their ``repr`` (so inf and nan survive JSON)."""

    types = (float,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return repr(float(value))


class IntegerSerializer(Serializer):
    types = (int,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return repr(int(value))


class FunctionSerializer(Serializer):
    types = (types.FunctionType,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return f"<function {value.__name__} from {value.__module__} at 0x{id(value):x}>"


# The order decides which serializer takes a value (a namedtuple before tuples, bool before int).
for _serializer in (
    NamedtupleSerializer,
    IterableSerializer,
    DictSerializer,
    UnicodeSerializer,
    StringSerializer,
    TypeSerializer,
    BooleanSerializer,
    FloatSerializer,
    IntegerSerializer,
    FunctionSerializer,
):
    serialization_manager.register(_serializer)
