"""raven 6.10's ``raven.utils.json``: ``dumps`` that takes the values events hold, ``loads``,
and the ``safe-utf-8`` codec.

``dumps`` writes UUIDs as their hex, datetimes as ``'%Y-%m-%dT%H:%M:%SZ'``, sets as lists,
bytes as text (invalid UTF-8 replaced) and anything else as its ``repr``; namedtuples are
tuples to :mod:`json`, so they stay arrays, as in raven 6.10. Where :mod:`json` still refuses
the value (a cycle, say), it is encoded by the event encoder's never-failing path
(:func:`raven.events.encode.dumps`). ``json`` is the standard library module, as raven 6.10
re-exported it.
"""

from __future__ import annotations

import codecs
import collections
import datetime
import json
import uuid
from typing import Any, Callable, Optional

from raven.utils.basic import is_namedtuple

__all__ = (
    "BetterJSONEncoder",
    "Codec",
    "IncrementalDecoder",
    "IncrementalEncoder",
    "JSONDecodeError",
    "StreamReader",
    "StreamWriter",
    "better_decoder",
    "dumps",
    "getregentry",
    "json",
    "loads",
    "safe_decode",
    "safe_encode",
)

JSONDecodeError = json.JSONDecodeError


class BetterJSONEncoder(json.JSONEncoder):
    """A JSONEncoder for the values raven events carry; ``ENCODER_BY_TYPE`` maps exact types to
    converters (subclasses may add entries)."""

    ENCODER_BY_TYPE: dict[Any, Callable[[Any], Any]] = {
        uuid.UUID: lambda o: o.hex,
        datetime.datetime: lambda o: o.strftime("%Y-%m-%dT%H:%M:%SZ"),
        set: list,
        frozenset: list,
        bytes: lambda o: o.decode("utf-8", errors="replace"),
        # Namedtuples are filed under their factory (their classes are all different).
        collections.namedtuple: lambda o: o._asdict(),
    }

    def default(self, o: Any) -> Any:
        kind: Any = type(o)
        if kind not in self.ENCODER_BY_TYPE and is_namedtuple(o):
            kind = collections.namedtuple
        convert = self.ENCODER_BY_TYPE.get(kind)
        if convert is not None:
            return convert(o)
        try:
            return super().default(o)
        except Exception:
            try:
                return repr(o)
            except Exception:
                return object.__repr__(o)


def better_decoder(data: Any) -> Any:
    """The ``object_hook`` of :func:`loads`: objects are kept as dicts."""
    return data


def dumps(value: Any, **kwargs: Any) -> str:
    """``value`` as JSON text (keyword arguments go to :func:`json.dumps`)."""
    try:
        return json.dumps(value, cls=BetterJSONEncoder, **kwargs)
    except Exception:
        from raven.events.encode import dumps as safe_dumps

        return safe_dumps(value).decode("utf-8")


def loads(value: Any, **kwargs: Any) -> Any:
    """Parse JSON text or bytes (raven 6.10 ignored other keyword arguments, and so do we)."""
    return json.loads(value, object_hook=better_decoder)


# -- the "safe-utf-8" codec: UTF-8 that never fails (backslash escapes out, replacement chars in)

_utf8_encode = codecs.getencoder("utf-8")
_utf8_decode = codecs.getdecoder("utf-8")


def safe_encode(input: str, errors: str = "backslashreplace") -> tuple[bytes, int]:
    return _utf8_encode(input, errors)


def safe_decode(input: bytes, errors: str = "replace") -> tuple[str, int]:
    return _utf8_decode(input, errors)


class Codec(codecs.Codec):
    def encode(self, input: str, errors: str = "backslashreplace") -> tuple[bytes, int]:
        return safe_encode(input, errors)

    def decode(self, input: bytes, errors: str = "replace") -> tuple[str, int]:
        return safe_decode(input, errors)


class IncrementalEncoder(codecs.IncrementalEncoder):
    def __init__(self, errors: str = "backslashreplace") -> None:
        super().__init__(errors)

    def encode(self, input: str, final: bool = False) -> bytes:
        return safe_encode(input, self.errors)[0]


class IncrementalDecoder(codecs.IncrementalDecoder):
    def __init__(self, errors: str = "replace") -> None:
        super().__init__(errors)

    def decode(self, input: bytes, final: bool = False) -> str:  # type: ignore[override]
        return safe_decode(input, self.errors)[0]


class StreamWriter(Codec, codecs.StreamWriter):
    pass


class StreamReader(Codec, codecs.StreamReader):
    pass


def getregentry(name: str) -> Optional[codecs.CodecInfo]:
    """The codec search function: knows ``safe-utf-8`` only."""
    if name not in ("safe-utf-8", "safe_utf_8"):
        return None
    return codecs.CodecInfo(
        name="safe-utf-8",
        encode=safe_encode,
        decode=safe_decode,  # type: ignore[arg-type]
        incrementalencoder=IncrementalEncoder,
        incrementaldecoder=IncrementalDecoder,
        streamreader=StreamReader,
        streamwriter=StreamWriter,
    )


codecs.register(getregentry)
