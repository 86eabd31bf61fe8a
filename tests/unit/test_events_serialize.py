"""safe_value: any object in, bounded JSON-safe value out, never an exception."""

from __future__ import annotations

import collections
import enum
import json
import math
from typing import Any

import pytest

from raven.events import DEFAULT_SETTINGS, EventSettings, encode_event, safe_repr, safe_str, safe_value
from raven.events.serialize import CYCLIC, shallow_repr


def assert_json_safe(value: Any) -> None:
    """Strict JSON (no NaN), and valid UTF-8 (no lone surrogates)."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")


# --- the hostile catalogue -------------------------------------------------------------------


class Boom(Exception):
    pass


class BadRepr:
    def __repr__(self) -> str:
        raise Boom("repr")

    def __str__(self) -> str:
        raise Boom("str")


class ReprNotStr:
    def __repr__(self) -> Any:
        return 42


class HostileStrFromRepr:
    def __repr__(self) -> str:
        return HostileStr("from repr")


class HostileStr(str):
    def __str__(self) -> str:
        raise Boom("str")

    def __len__(self) -> int:
        raise Boom("len")

    def __getitem__(self, item: Any) -> Any:
        raise Boom("getitem")

    def __iter__(self) -> Any:
        raise Boom("iter")

    def __hash__(self) -> int:
        raise Boom("hash")

    def __eq__(self, other: object) -> bool:
        raise Boom("eq")

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise Boom("encode")

    def isascii(self) -> bool:
        raise Boom("isascii")


class HostileKey(str):
    """A str subclass usable as a dict key whose other methods raise."""

    __hash__ = str.__hash__

    def __str__(self) -> str:
        raise Boom("str")

    def __repr__(self) -> str:
        raise Boom("repr")

    def __len__(self) -> int:
        raise Boom("len")

    def lower(self) -> str:
        raise Boom("lower")


class HostileDict(dict):
    def items(self) -> Any:
        raise Boom("items")

    def keys(self) -> Any:
        raise Boom("keys")

    def values(self) -> Any:
        raise Boom("values")

    def __iter__(self) -> Any:
        raise Boom("iter")

    def __len__(self) -> int:
        raise Boom("len")

    def __getitem__(self, key: Any) -> Any:
        raise Boom("getitem")

    def __repr__(self) -> str:
        raise Boom("repr")


class HostileList(list):
    def __iter__(self) -> Any:
        raise Boom("iter")

    def __len__(self) -> int:
        raise Boom("len")

    def __getitem__(self, key: Any) -> Any:
        raise Boom("getitem")

    def __repr__(self) -> str:
        raise Boom("repr")


class HostileEverything:
    """Every dunder the serializer could touch raises."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:  # noqa: F811
        raise Boom("__class__")

    def __getattr__(self, name: str) -> Any:
        raise Boom("getattr " + name)

    def __eq__(self, other: object) -> bool:
        raise Boom("eq")

    def __hash__(self) -> int:
        raise Boom("hash")

    def __len__(self) -> int:
        raise Boom("len")

    def __iter__(self) -> Any:
        raise Boom("iter")

    def __bool__(self) -> bool:
        raise Boom("bool")

    def __repr__(self) -> str:
        raise Boom("repr")


class GetattributeRaises:
    def __getattribute__(self, name: str) -> Any:
        raise Boom("getattribute " + name)


class HostileMeta(type):
    def __getattribute__(cls, name: str) -> Any:
        raise Boom("meta " + name)


class WithHostileMeta(metaclass=HostileMeta):
    pass


class LazyProxy:
    """Like django.utils.functional.SimpleLazyObject whose setup fails: every attribute
    (``__class__`` included) is forwarded to a wrapped object that cannot be built."""

    def _setup(self) -> Any:
        raise Boom("database is gone")

    def __getattribute__(self, name: str) -> Any:
        if name == "_setup":
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_setup")(), name)

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_setup")())

    def __str__(self) -> str:
        return str(object.__getattribute__(self, "_setup")())


class CountingIterator:
    """A user iterator: serializing it must never advance it."""

    def __init__(self) -> None:
        self.advanced = 0

    def __iter__(self) -> CountingIterator:
        return self

    def __next__(self) -> int:
        self.advanced += 1
        return self.advanced


class FakeArray:
    """numpy-like: a shape, __array__, and a repr as big as the data."""

    shape = (1_000_000,)

    def __array__(self) -> Any:
        raise Boom("no numpy here")

    def __len__(self) -> int:
        return 1_000_000

    def __iter__(self) -> Any:
        raise AssertionError("must not iterate")

    def __repr__(self) -> str:
        return "array([" + ", ".join(["0.5"] * 200_000) + "])"


Point = collections.namedtuple("Point", ["x", "y"])


class Color(enum.IntEnum):
    RED = 1


class MutatesParent:
    """Its repr mutates the dict being serialized (RuntimeError: dict changed size)."""

    def __init__(self, parent: dict[str, Any]) -> None:
        self.parent = parent

    def __repr__(self) -> str:
        for i in range(100):
            self.parent[f"new{i}"] = i
        return "mutator"


def counting_generator(box: list[int]) -> Any:
    box[0] += 1
    yield 1
    box[0] += 1
    yield 2


def hostile_catalogue() -> dict[str, Any]:
    cyclic_list: list[Any] = [1]
    cyclic_list.append(cyclic_list)
    cyclic_dict: dict[str, Any] = {"a": 1}
    cyclic_dict["self"] = cyclic_dict
    cross: dict[str, Any] = {"l": []}
    cross["l"].append(cross)
    deep: list[Any] = []
    cur = deep
    for _ in range(5000):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    mutating: dict[str, Any] = {}
    mutating["m"] = MutatesParent(mutating)
    return {
        "cyclic_list": cyclic_list,
        "cyclic_dict": cyclic_dict,
        "cross_cycle": cross,
        "deep": deep,
        "huge_str": "x" * 5_000_000,
        "huge_list": list(range(100_000)),
        "huge_tuple": tuple(range(100_000)),
        "huge_set": set(range(100_000)),
        "huge_frozenset": frozenset(range(100_000)),
        "huge_dict": {i: i for i in range(100_000)},
        "huge_deque": collections.deque(range(100_000)),
        "generator": counting_generator([0]),
        "iterator": CountingIterator(),
        "bad_repr": BadRepr(),
        "repr_not_str": ReprNotStr(),
        "hostile_str_from_repr": HostileStrFromRepr(),
        "hostile_str": HostileStr("hello"),
        "hostile_dict": HostileDict(a=1),
        "hostile_list": HostileList([1, 2, 3]),
        "hostile_everything": HostileEverything(),
        "getattribute_raises": GetattributeRaises(),
        "hostile_meta": WithHostileMeta(),
        "hostile_meta_class": WithHostileMeta,
        "lazy": LazyProxy(),
        "fake_array": FakeArray(),
        "bytes_utf8": "héllo".encode(),
        "bytes_binary": b"\x89PNG\r\n\x1a\n\xff\xfe\x00",
        "bytes_huge": b"a" * 1_000_000,
        "bytearray": bytearray(b"\xffabc"),
        "memoryview": memoryview(b"abc"),
        "surrogate": "a\ud800b\udfffc",
        "surrogate_key": {"k\udc80": "v"},
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": float("-inf"),
        "giant_int": 10**5000,
        "big_int": 2**70,
        "neg_giant_int": -(10**10000),
        "int_enum": Color.RED,
        "odd_keys": {
            (1, 2): "tuple",
            None: "none",
            3: "int",
            1.5: "float",
            frozenset({1}): "frozenset",
            b"k": "bytes",
            BadRepr(): "bad key",
            10**5000: "giant int key",
            HostileKey("hk"): "hostile str key",
        },
        "mutating": mutating,
        "exception": ValueError("an exception value"),
        "type": int,
        "function": hostile_catalogue,
        "module": json,
        "nested_hostile": [{"x": [BadRepr(), HostileEverything(), float("nan")]}],
        "ordered": collections.OrderedDict(a=1),
        "defaultdict": collections.defaultdict(list, a=[1]),
        "namedtuple": Point(1, 2),
        "slots_object": slice(1, 2),
        "ellipsis": ...,
        "complex": 1 + 2j,
    }


CATALOGUE = hostile_catalogue()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_hostile_value_never_raises_and_is_json_safe(name: str) -> None:
    out = safe_value(CATALOGUE[name])
    assert_json_safe(out)
    body = encode_event({"extra": {name: out}})
    json.loads(body.decode("utf-8"))


def test_whole_catalogue_at_once_is_bounded() -> None:
    out = safe_value(CATALOGUE)
    assert_json_safe(out)
    # max_value_size bounds the whole tree, however much the catalogue holds.
    assert len(json.dumps(out)) < 2 * DEFAULT_SETTINGS.max_value_size


def test_raw_catalogue_through_encode_event() -> None:
    # The client should run extra through safe_value, but encode_event must cope if not.
    body = encode_event({"event_id": "a" * 32, "extra": CATALOGUE})
    assert len(body) <= 1_000_000
    json.loads(body.decode("utf-8"))


def test_generators_and_iterators_are_never_advanced() -> None:
    box = [0]
    gen = counting_generator(box)
    it = CountingIterator()
    out = safe_value({"g": gen, "i": it})
    assert box[0] == 0
    assert it.advanced == 0
    assert "generator" in out["g"]
    assert next(gen) == 1


def test_unprintable_objects() -> None:
    assert safe_value(BadRepr()) == "<unprintable BadRepr object>"
    assert safe_value(ReprNotStr()) == "<unprintable ReprNotStr object>"
    assert safe_value(HostileEverything()) == "<unprintable HostileEverything object>"
    assert safe_value(LazyProxy()) == "<unprintable LazyProxy object>"
    assert safe_value(HostileStrFromRepr()) == "from repr"
    assert safe_str(BadRepr()) == "<unprintable BadRepr object>"
    assert safe_repr(WithHostileMeta()).startswith("<")


def test_builtin_subclasses_are_read_without_their_overrides() -> None:
    assert safe_value(HostileStr("hello")) == "hello"
    assert safe_value(HostileDict(a=1)) == {"a": 1}
    assert safe_value(HostileList([1, 2, 3])) == [1, 2, 3]
    assert safe_value(Color.RED) == 1
    assert safe_value(collections.OrderedDict(a=1)) == {"a": 1}
    assert safe_value(Point(1, 2)) == [1, 2]


def test_cycles_are_marked_but_shared_references_are_not() -> None:
    lst: list[Any] = [1]
    lst.append(lst)
    assert safe_value(lst) == [1, CYCLIC]
    d: dict[str, Any] = {}
    d["me"] = d
    assert safe_value(d) == {"me": CYCLIC}
    shared = [1, 2]
    assert safe_value([shared, shared]) == [[1, 2], [1, 2]]


def test_string_limits() -> None:
    s = safe_value("x" * 1000)
    assert len(s) == DEFAULT_SETTINGS.string_max_length
    assert s.endswith("...")
    assert safe_value("short") == "short"
    small = EventSettings(string_max_length=10)
    assert safe_value("abcdefghijklmnop", small) == "abcdefg..."


def test_list_and_dict_limits() -> None:
    assert len(safe_value(list(range(1000)))) == 50
    assert safe_value(list(range(1000)))[:3] == [0, 1, 2]
    assert len(safe_value({str(i): i for i in range(1000)})) == 50
    assert len(safe_value(set(range(1000)))) == 50
    assert safe_value((1, 2)) == [1, 2]


def test_depth_limit_gives_a_short_repr() -> None:
    value: Any = {"leaf": 1}
    for _ in range(10):
        value = {"n": value}
    out = safe_value(value, EventSettings(max_depth=3))
    assert out["n"]["n"]["n"] == "{'n': {...}}"


def test_size_budget_bounds_big_trees() -> None:
    tree = [{f"k{j}": "v" * 400 for j in range(50)} for _ in range(50)]
    out = safe_value(tree)
    size = len(json.dumps(out))
    assert size < DEFAULT_SETTINGS.max_value_size * 1.5
    assert out[0]["k0"] == "v" * 400
    # Once the budget is spent, later values shrink to "..." or a summary.
    assert out[-1] == "<dict with 50 items>" or set(out[-1].values()) == {"..."}


def test_numbers() -> None:
    assert safe_value(float("nan")) == "nan"
    assert safe_value(float("inf")) == "inf"
    assert safe_value(float("-inf")) == "-inf"
    assert safe_value(1.5) == 1.5
    assert safe_value(True) is True
    assert safe_value(None) is None
    assert safe_value(2**70) == str(2**70)
    assert safe_value(10**5000).startswith("<int with ")
    assert safe_value(-(2**63)) == -(2**63)


def test_bytes() -> None:
    assert safe_value("héllo".encode()) == "héllo"
    assert safe_value(b"\xff\x00a") == "\\xff\x00a"
    assert len(safe_value(b"a" * 10_000)) == 400


def test_lone_surrogates_are_replaced() -> None:
    out = safe_value({"k\ud800": "a\udfffb"})
    assert out == {"k?": "a?b"}


def test_keys_become_strings() -> None:
    out = safe_value({1: "a", None: "b", (1, 2): "c", BadRepr(): "d"})
    assert out == {"1": "a", "None": "b", "(1, 2)": "c", "<unprintable BadRepr object>": "d"}


def test_fake_array_is_cut_and_not_iterated() -> None:
    out = safe_value(FakeArray())
    assert out.startswith("array([0.5, 0.5")
    assert len(out) == 400


def test_shallow_repr() -> None:
    assert shallow_repr({"a": 1, "b": [1], "c": {}}) == "{'a': 1, 'b': [...], 'c': {...}}"
    assert shallow_repr(list(range(8))) == "[0, 1, 2, 3, 4, ...3 more]"
    assert shallow_repr(collections.OrderedDict(a=1)) == "OrderedDict({'a': 1})"
    assert shallow_repr(HostileDict(a=1)) == "HostileDict({'a': 1})"


def test_safe_value_does_not_mutate_input() -> None:
    value = {"a": [1, 2, {"b": "x" * 1000}], "n": float("nan")}
    before = repr(value)
    safe_value(value)
    assert repr(value) == before


def test_results_are_finite() -> None:
    out = safe_value([1.0, float("nan"), 2.5])
    assert all(not isinstance(x, float) or math.isfinite(x) for x in out)
