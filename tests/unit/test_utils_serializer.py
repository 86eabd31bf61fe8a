"""raven.utils.serializer and raven.utils.encoding: raven 6.10's transform (values in their quoted
"repr" form, bounded by the given limits), custom serializers, and the text helpers."""

from __future__ import annotations

import collections
import datetime
import uuid
import warnings
from decimal import Decimal
from typing import Any

import pytest

from raven.utils.encoding import force_text, is_protected_type, to_string, to_unicode
from raven.utils.encoding import transform as deprecated_transform
from raven.utils.serializer import Serializer, register, transform
from raven.utils.serializer.manager import SerializationManager


def test_scalars_take_raven610s_forms() -> None:
    assert transform("רונית מגן") == "'רונית מגן'"
    assert transform(b"hello world") == "b'hello world'"
    assert transform(13.0) == "13.0"
    assert transform(float("nan")) == "nan"
    assert transform(True) == "True"
    assert transform(7) == "7"
    assert transform(None) is None

    class X(int):
        pass

    assert transform(X()) == "0"
    value = uuid.uuid4()
    assert transform(value) == repr(value)


def test_containers() -> None:
    assert transform({"foo": "bar"}) == {"'foo'": "'bar'"}
    assert transform([1, "a"]) == ("1", "'a'")
    assert transform({3}) == ("3",)
    point = collections.namedtuple("Point", "x y")(1, "y")
    assert transform(point) == {"x": "1", "y": "'y'"}
    assert transform({1: 2}) == {"1": "2"}


def test_limits() -> None:
    assert transform(list(range(10)), list_max_length=3) == ("0", "1", "2")
    assert len(transform({i: i for i in range(10)}, list_max_length=3)) == 3
    assert transform("1234", string_max_length=3) == "'123'"
    assert transform(b"\xd7" * 6, string_max_length=1) == "b'\\xd7'"
    assert transform([[[[1]]]], max_depth=3) == ((("'[1]'",),),)


def test_cycles_and_broken_objects() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert transform(cyclic) == ("<...>",)

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no repr")

    assert transform(Broken()) == str(Broken)
    assert transform([Broken()]) == (str(Broken),)


def test_objects_with_a_sentry_method_and_functions() -> None:
    class WithSentry:
        def __sentry__(self) -> str:
            return "example"

    assert transform(WithSentry()) == "'example'"
    assert transform(WithSentry).startswith("<class ")  # a class is not asked for __sentry__
    assert transform(test_containers).startswith(f"<function test_containers from {__name__} at 0x")


def test_registered_serializer_handles_its_type_and_recurses() -> None:
    class Money:
        def __init__(self, amount: Decimal, currency: str) -> None:
            self.amount, self.currency = amount, currency

    manager = SerializationManager()
    from raven.utils.serializer import base

    for cls in (base.IterableSerializer, base.UnicodeSerializer):
        manager.register(cls)

    @manager.register
    class MoneySerializer(Serializer):
        types = (Money,)

        def serialize(self, value: Any, **kwargs: Any) -> Any:
            return self.recurse([str(value.amount), value.currency], **kwargs)

    assert transform([Money(Decimal("1.50"), "EUR")], manager=manager) == (("'1.50'", "'EUR'"),)
    assert register is not None and register(MoneySerializer) is MoneySerializer  # the global one
    assert transform(Money(Decimal(2), "USD")) == ("'2'", "'USD'")


def test_failing_serializer_gives_the_type() -> None:
    class Weird:
        pass

    manager = SerializationManager()

    @manager.register
    class Failing(Serializer):
        types = (Weird,)

        def serialize(self, value: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    assert transform(Weird(), manager=manager) == str(Weird)


# -- raven.utils.encoding


def test_force_text_and_to_unicode() -> None:
    assert force_text(b"caf\xc3\xa9") == "café"
    assert force_text(5) == "5"
    assert force_text(5, strings_only=True) == 5
    when = datetime.date(2020, 1, 2)
    assert force_text(when, strings_only=True) is when
    assert is_protected_type(Decimal("1")) and not is_protected_type("x")
    with pytest.raises(UnicodeDecodeError):
        force_text(b"\xff")
    error = ValueError(b"\xff", "x")
    assert force_text(error) == str(error)

    class BadStr:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert to_unicode(b"\xff") == "(Error decoding value)"
    assert to_unicode(BadStr()) == repr(BadStr)
    assert to_unicode("ok") == "ok"


def test_to_string_gives_utf8_bytes() -> None:
    assert to_string("café") == "café".encode()
    assert to_string(b"raw") == b"raw"
    assert to_string(b"\xff") == b"(Error decoding value)"
    assert to_string(3) == b"3"


def test_encoding_transform_is_deprecated() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert deprecated_transform("x") == "'x'"
    assert caught and issubclass(caught[0].category, DeprecationWarning)
