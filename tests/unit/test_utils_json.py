"""raven.utils.json: raven 6.10's dumps (UUID, datetime, set, bytes, namedtuple, any object),
loads, and the safe-utf-8 codec."""

from __future__ import annotations

import codecs
import collections
import datetime
import json as stdlib_json
import uuid
from decimal import Decimal

from raven.utils import json


def test_dumps_the_types_events_carry() -> None:
    value = {
        "uuid": uuid.UUID(int=255),
        "when": datetime.datetime(2011, 1, 1, 1, 1, 1),
        "set": {"only"},
        "frozen": frozenset(["f"]),
        "bytes": b"caf\xc3\xa9 \xff",
        "point": collections.namedtuple("Point", "x y")(1, 2),
        "decimal": Decimal("123.45"),
    }
    decoded = stdlib_json.loads(json.dumps(value))
    assert decoded == {
        "uuid": "000000000000000000000000000000ff",
        "when": "2011-01-01T01:01:01Z",
        "set": ["only"],
        "frozen": ["f"],
        "bytes": "café \ufffd",
        "point": [1, 2],  # a tuple to json itself; namedtuple objects only through default()
        "decimal": "Decimal('123.45')",
    }


def test_unknown_objects_become_their_repr_even_when_repr_fails() -> None:
    class Unknown:
        def __repr__(self) -> str:
            return "Unknown object"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert json.dumps(Unknown()) == '"Unknown object"'
    assert "Broken object at 0x" in json.dumps(Broken())


def test_dumps_passes_options_and_survives_what_json_refuses() -> None:
    assert json.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert stdlib_json.loads(json.dumps(cyclic)) == ["<cyclic>"]


def test_loads_and_module_names() -> None:
    assert json.loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert json.loads(b'{"a": 1}') == {"a": 1}
    assert json.json is stdlib_json
    assert json.JSONDecodeError is stdlib_json.JSONDecodeError


def test_safe_utf8_codec_never_fails() -> None:
    assert "é\udc80".encode("safe-utf-8") == "é".encode() + b"\\udc80"
    assert b"ok \xff".decode("safe-utf-8") == "ok \ufffd"
    assert codecs.lookup("safe-utf-8").name == "safe-utf-8"
    encoder = codecs.getincrementalencoder("safe-utf-8")()
    assert encoder.encode("a\udc80") == b"a\\udc80"
    decoder = codecs.getincrementaldecoder("safe-utf-8")()
    assert decoder.decode(b"b\xff") == "b\ufffd"
