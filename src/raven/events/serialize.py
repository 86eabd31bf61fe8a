"""Turn any Python object into a bounded, JSON-safe value, without ever raising.

Exact builtin types are dispatched with ``type(v) is ...`` (fast, and immune to a hostile
``__class__``); subclasses of builtins are read through the builtin's own methods
(``dict.items(v)``, ``list.__iter__(v)``) so overridden methods never run; everything else
becomes its ``repr``, cut to length. User iterators are never iterated.
"""

from __future__ import annotations

import re
from collections import deque
from itertools import islice
from typing import Any, Optional

from .settings import DEFAULT_SETTINGS, EventSettings

CYCLIC = "<cyclic>"
ELLIPSIS = "..."

# JSON readers (serde_json in Sentry's relay included) handle 64-bit integers; larger ones
# travel as strings.
_INT_MIN = -(2**63)
_INT_MAX = 2**64
# str(int) refuses more than 4300 digits on Python 3.11+ (int_max_str_digits); stay well below.
_MAX_INT_BITS = 4000 * 3


def trim_str(s: str, limit: int) -> str:
    """Cut ``s`` to ``limit`` characters, marking the cut with '...'."""
    if len(s) <= limit:
        return s
    if limit <= 3:
        return s[:limit]
    return s[: limit - 3] + ELLIPSIS


def clean_str(s: str) -> str:
    """Replace lone surrogates, which cannot be encoded as UTF-8 (nor read by strict JSON parsers)."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")
    return s


def type_name(value: object) -> str:
    """The name of ``value``'s real type (never consults ``__class__``)."""
    try:
        name = type(value).__name__
        if type(name) is str:
            return name
    except Exception:
        pass
    return "object"


def safe_repr(value: object, limit: int = DEFAULT_SETTINGS.string_max_length) -> str:
    """``repr(value)`` cut to ``limit``; "<unprintable X object>" when repr fails."""
    try:
        r = repr(value)
        if type(r) is not str:
            r = str.__str__(r)
    except Exception:
        return f"<unprintable {type_name(value)} object>"
    return clean_str(trim_str(r, limit))


def safe_str(value: object, limit: int = DEFAULT_SETTINGS.string_max_length) -> str:
    """``str(value)`` cut to ``limit``; falls back to ``safe_repr``."""
    if type(value) is str:
        return clean_str(trim_str(value, limit))
    try:
        s = str(value)
        if type(s) is not str:
            s = str.__str__(s)
    except Exception:
        return safe_repr(value, limit)
    return clean_str(trim_str(s, limit))


def int_value(v: int, limit: int) -> Any:
    """A plain int when JSON readers can take it, else its decimal string (or a summary)."""
    if _INT_MIN <= v < _INT_MAX:
        return v
    if v.bit_length() > _MAX_INT_BITS:
        return f"<int with {v.bit_length()} bits>"
    return trim_str(int.__repr__(v), limit)


def _bytes_value(v: bytes, limit: int) -> str:
    # Text stays readable; invalid bytes show as \xNN.
    return clean_str(trim_str(v[: limit + 3].decode("utf-8", "backslashreplace"), limit))


_SCALARS = frozenset({str, int, float, bool, type(None)})
_PREVIEW_ITEMS = 5


def _preview(x: Any) -> str:
    t = type(x)
    if t is dict:
        return "{...}"
    if t is list:
        return "[...]"
    if t is tuple:
        return "(...)"
    if t in _SCALARS:
        if t is int and not _INT_MIN <= x < _INT_MAX:
            return "<int>"
        return trim_str(repr(x), 40)
    return f"<{type_name(x)}>"


def shallow_repr(value: Any) -> str:
    """A one-level repr of a container: scalars shown (cut), nested values as {...} / [...].

    Bounded work whatever the container holds; used below ``max_depth``.
    """
    try:
        t = type(value)
        if issubclass(t, dict):
            n = dict.__len__(value)
            parts = [f"{_preview(k)}: {_preview(v)}" for k, v in islice(dict.items(value), _PREVIEW_ITEMS)]
            open_, close = "{", "}"
        else:
            base: Any = _SEQ_BASE.get(t) or _seq_base(t)
            n = base.__len__(value)
            parts = [_preview(x) for x in islice(base.__iter__(value), _PREVIEW_ITEMS)]
            open_, close = _BRACKETS[base]
        if n > _PREVIEW_ITEMS:
            parts.append(f"...{n - _PREVIEW_ITEMS} more")
        r = open_ + ", ".join(parts) + close
        return r if t in _PLAIN else f"{type_name(value)}({r})"
    except Exception:
        return f"<{type_name(value)}>"


class Walker:
    """One traversal: the limits, the ids on the current path, and the remaining size budget.

    ``room`` is an approximate character budget for the whole tree: strings spend their
    length, container items spend one each. Once spent, strings become '...' and containers
    a short summary, so one enormous value cannot make the event (or the work) explode.
    """

    __slots__ = ("smax", "lmax", "max_depth", "room", "path")

    def __init__(self, settings: EventSettings, room: Optional[int] = None) -> None:
        self.smax = max(settings.string_max_length, 4)
        self.lmax = max(settings.list_max_length, 1)
        self.max_depth = settings.max_depth
        self.room = settings.max_value_size if room is None else room
        self.path: set[int] = set()

    def walk(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is str:
            n = len(v)
            if n > self.smax or n > self.room:
                limit = min(self.smax, self.room)
                if limit < 4:
                    self.room -= 3
                    return ELLIPSIS
                v = trim_str(v, limit)
                n = limit
            self.room -= n
            return v if v.isascii() else clean_str(v)
        if t is int:
            if _INT_MIN <= v < _INT_MAX:
                return v
            return int_value(v, self.smax)
        if v is None or t is bool:
            return v
        if t is float:
            return v if v - v == 0.0 else float.__repr__(v)
        if t is dict:
            return self.walk_dict(v, depth)
        if t is list or t is tuple:
            return self.walk_seq(v, depth)
        return self.walk_other(v, t, depth)

    def key(self, k: Any) -> str:
        """A JSON object key for any dict key."""
        t = type(k)
        if t is str:
            if len(k) > self.smax:
                k = trim_str(k, self.smax)
            return k if k.isascii() else clean_str(k)
        if t is int:
            r = int_value(k, self.smax)
            return r if type(r) is str else int.__repr__(r)
        if issubclass(t, str):
            return self.key(str.__str__(k))
        return safe_repr(k, self.smax)

    def _summary(self, v: object, n: int) -> str:
        return f"<{type_name(v)} with {n} items>"

    def deep(self, v: Any) -> str:
        """A container below ``max_depth``: a short repr, charged to the budget."""
        if self.room <= 0:
            return f"<{type_name(v)}>"
        r = clean_str(trim_str(shallow_repr(v), min(self.smax, max(self.room, 16))))
        self.room -= len(r)
        return r

    def walk_dict(self, v: Any, depth: int) -> Any:
        if depth >= self.max_depth:
            return self.deep(v)
        i = id(v)
        if i in self.path:
            return CYCLIC
        try:
            n = dict.__len__(v)
            take = min(n, self.lmax, self.room)
            if take < n and take <= 0:
                return self._summary(v, n)
            self.room -= take
            items = dict.items(v)
            self.path.add(i)
            d1 = depth + 1
            walk = self.walk
            out = {}
            for k, val in items if take == n else islice(items, take):
                out[k if type(k) is str and len(k) <= self.smax and k.isascii() else self.key(k)] = walk(
                    val, d1
                )
            return out
        except Exception:
            return safe_repr(v, self.smax)
        finally:
            self.path.discard(i)

    def walk_seq(self, v: Any, depth: int) -> Any:
        """Lists, tuples, sets, deques (and their subclasses), read with the builtin's own iterator."""
        if depth >= self.max_depth:
            return self.deep(v)
        i = id(v)
        if i in self.path:
            return CYCLIC
        try:
            t = type(v)
            if t is list or t is tuple:
                n = len(v)
                it: Any = v
            else:
                base: Any = _SEQ_BASE.get(t) or _seq_base(t)
                n = base.__len__(v)
                it = base.__iter__(v)
            take = min(n, self.lmax, self.room)
            if take < n and take <= 0:
                return self._summary(v, n)
            self.room -= take
            self.path.add(i)
            d1 = depth + 1
            walk = self.walk
            if take < n:
                it = islice(it, take)
            return [walk(x, d1) for x in it]
        except Exception:
            return safe_repr(v, self.smax)
        finally:
            self.path.discard(i)

    def walk_other(self, v: Any, t: type, depth: int) -> Any:
        try:
            if t is bytes or t is bytearray:
                return self.walk(_bytes_value(bytes(v[: self.smax + 3]), self.smax), depth)
            if issubclass(t, (bytes, bytearray)):
                base = bytes if issubclass(t, bytes) else bytearray
                raw = bytes(base.__getitem__(v, slice(0, self.smax + 3)))
                return self.walk(_bytes_value(raw, self.smax), depth)
            if t is set or t is frozenset or t is deque:
                return self.walk_seq(v, depth)
            if issubclass(t, str):
                return self.walk(str.__str__(v), depth)
            if issubclass(t, int):
                return self.walk(int.__index__(v), depth)
            if issubclass(t, float):
                return self.walk(float.__float__(v), depth)
            if issubclass(t, dict):
                return self.walk_dict(v, depth)
            if issubclass(t, (list, tuple, set, frozenset, deque)):
                return self.walk_seq(v, depth)
        except Exception:
            pass
        r = safe_repr(v, max(min(self.smax, self.room), 3))
        self.room -= len(r)
        return r


_SEQ_BASES = (list, tuple, set, frozenset, deque)
_BRACKETS: dict[type, tuple[str, str]] = {
    dict: ("{", "}"),
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("{", "}"),
    deque: ("[", "]"),
}
_PLAIN = frozenset({dict, list, tuple, set})
_SEQ_BASE: dict[type, type] = {b: b for b in _SEQ_BASES}


def _seq_base(t: type) -> type:
    for b in t.__mro__:
        if b in _SEQ_BASE:
            return b
    raise TypeError(t)


def safe_value(value: object, settings: EventSettings = DEFAULT_SETTINGS) -> Any:
    """A JSON-serializable copy of ``value`` within ``settings``' limits. Never raises.

    Cycles become "<cyclic>", long strings end with "...", containers keep
    ``list_max_length`` items, nesting beyond ``max_depth`` becomes a short repr, objects
    become their repr ("<unprintable X object>" if that fails), NaN/inf become strings,
    dict keys become strings, lone surrogates are replaced.
    """
    try:
        return Walker(settings).walk(value, 0)
    except Exception:
        return f"<unprintable {type_name(value)} object>"


class RavenFormWalker(Walker):
    """raven 6.10's serializer forms (``raven.utils.serializer``), at this module's speed and
    within its limits: strings, numbers and booleans become their repr (``"'bar'"``, ``"1"``,
    ``"True"``), sequences become tuples, dict keys take the same forms, None stays None, other
    objects become their repr."""

    __slots__ = ()

    def walk(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is str:
            return repr(Walker.walk(self, v, depth))
        if t is int or t is bool or t is float:
            return repr(v)
        if v is None:
            return None
        if t is dict:
            return self.walk_dict(v, depth)
        if t is bytes:
            return repr(v[: self.smax])
        out = self.walk_seq(v, depth) if t is list or t is tuple else Walker.walk_other(self, v, t, depth)
        return tuple(out) if type(out) is list else out

    def walk_dict(self, v: Any, depth: int) -> Any:
        out = Walker.walk_dict(self, v, depth)
        if type(out) is not dict:
            return out
        try:
            return {
                (repr(key) if type(original) is str else key): value
                for original, (key, value) in zip(dict.keys(v), out.items())
            }
        except Exception:
            return out


def raven_form(value: object, settings: EventSettings = DEFAULT_SETTINGS) -> Any:
    """``value`` as raven 6.10's ``Client.transform`` gave it (see :class:`RavenFormWalker`)."""
    try:
        return RavenFormWalker(settings).walk(value, 0)
    except Exception:
        return f"<unprintable {type_name(value)} object>"


_NUMBER = re.compile(r"^-?\d+$|^-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$|^-?\d+[eE][-+]?\d+$")


def from_raven_form(value: Any) -> Any:
    """The JSON value behind raven 6.10's forms (the inverse of :func:`raven_form`, for the
    wire): ``"'bar'"`` -> ``"bar"``, ``"1"`` -> ``1``, ``"True"`` -> ``true``, tuples -> lists.
    Anything else (an object's repr, a value a processor put there) is kept as it is."""
    t = type(value)
    if t is str:
        return _from_form(value)
    if t is tuple or t is list:
        return [from_raven_form(item) for item in value]
    if t is dict:
        return {
            (_from_form(key) if type(key) is str else key): from_raven_form(item)
            for key, item in value.items()
        }
    return value


def _from_form(text: str) -> Any:
    n = len(text)
    if n >= 2:
        quote = text[0]
        if quote in "'\"" and text[-1] == quote:
            inner = text[1:-1]
            if "\\" not in inner and quote not in inner:
                return inner  # the common case: no escapes
            return _literal(text)
        if quote == "b" and n >= 3 and text[1] in "'\"" and text[-1] == text[1]:
            raw = _literal(text)
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if text == "True":
        return True
    if text == "False":
        return False
    if n and n < 40 and _NUMBER.match(text):
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text
    return text


def _literal(text: str) -> Any:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, (str, bytes)) else text
