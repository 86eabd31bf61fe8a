"""raven 6.10's processors on raven-ng's event format."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest

from raven.processors import (
    Processor,
    RemovePostDataProcessor,
    RemoveStackLocalsProcessor,
    SanitizeKeysProcessor,
    SanitizePasswordsProcessor,
    varmap,
)

MASK = "********"


class FakeClient:
    def __init__(self, sanitize_keys: Any = None) -> None:
        self.sanitize_keys = sanitize_keys


def frame(**vars_: Any) -> dict[str, Any]:
    return {"filename": "app.py", "function": "f", "lineno": 1, "vars": vars_}


def sample_event() -> dict[str, Any]:
    return {
        "event_id": "a" * 32,
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "k",
                    "stacktrace": {"frames": [frame(password="p1", ok="fine")]},
                },
                {
                    "type": "RuntimeError",
                    "value": "r",
                    "stacktrace": {
                        "frames": [
                            frame(
                                user_password="p2",
                                card="4111 1111 1111 1111",
                                card_dashes="4111-1111-1111-1111",
                                not_a_card="4111 1111",
                                phone="+44 20 7946 0958",
                                nested={"api_key": "k", "deeper": [{"Authorization": "Bearer x"}], "n": 1},
                                secret={"whole": "dict"},
                                passwd=None,
                                items=["4111111111111111", "plain"],
                            )
                        ]
                    },
                },
            ]
        },
        "stacktrace": {"frames": [frame(sentry_dsn="https://k@h/1", name="bob")]},
        "request": {
            "url": "http://example.com/login",
            "method": "POST",
            "data": {"username": "bob", "password": "hunter2"},
            "query_string": "a=1&access_token=tok&b",
            "cookies": "sessionid=abc; password=pw",
            "headers": {
                "Authorization": "Basic Zm9v",
                "Cookie": "csrftoken=t; secret=s",
                "Host": "example.com",
            },
            "env": {"SERVER_NAME": "h", "APIKEY": "env-key"},
        },
        "extra": {"password": "x", "safe": "y", "list": [{"secret": 1}], "count": 3},
        "breadcrumbs": {
            "values": [{"category": "http", "data": {"url": "/", "api_key": "b"}}, {"message": "m"}]
        },
    }


def test_sanitize_passwords_everywhere() -> None:
    out = SanitizePasswordsProcessor(FakeClient()).process(sample_event())

    v0 = out["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert v0 == {"password": MASK, "ok": "fine"}
    v1 = out["exception"]["values"][1]["stacktrace"]["frames"][0]["vars"]
    assert v1["user_password"] == MASK
    assert v1["card"] == MASK
    assert v1["card_dashes"] == MASK
    assert v1["not_a_card"] == "4111 1111"
    assert v1["phone"] == "+44 20 7946 0958"
    assert v1["nested"] == {"api_key": MASK, "deeper": [{"Authorization": MASK}], "n": 1}
    assert v1["secret"] == MASK  # a container under a sensitive key goes whole
    assert v1["passwd"] is None  # raven 6.10 leaves None alone
    assert v1["items"] == [MASK, "plain"]

    # A message's stack=True stacktrace is scrubbed too (raven 6.10 forgot it).
    assert out["stacktrace"]["frames"][0]["vars"] == {"sentry_dsn": MASK, "name": "bob"}

    req = out["request"]
    assert req["data"] == {"username": "bob", "password": MASK}
    assert req["query_string"] == "a=1&access_token=" + MASK + "&b"
    assert req["cookies"] == "sessionid=abc; password=" + MASK
    assert req["headers"]["Authorization"] == MASK
    assert req["headers"]["Cookie"] == "csrftoken=t; secret=" + MASK
    assert req["headers"]["Host"] == "example.com"
    assert req["env"] == {"SERVER_NAME": "h", "APIKEY": MASK}
    assert req["url"] == "http://example.com/login"

    assert out["extra"] == {"password": MASK, "safe": "y", "list": [{"secret": MASK}], "count": 3}
    assert out["breadcrumbs"]["values"][0]["data"] == {"url": "/", "api_key": MASK}
    assert out["breadcrumbs"]["values"][1] == {"message": "m"}


def test_bytes_http_fields_are_decoded_then_sanitized() -> None:
    event = {"request": {"data": b"user=bob&password=pw", "query_string": b"x=1"}}
    out = SanitizePasswordsProcessor(FakeClient()).process(event)
    assert out["request"]["data"] == "user=bob&password=" + MASK
    assert out["request"]["query_string"] == "x=1"


def test_sanitize_keys_processor_uses_client_keys_case_insensitively() -> None:
    proc = SanitizeKeysProcessor(FakeClient(sanitize_keys=["foo", "BAR"]))
    out = proc.process({"extra": {"my_foo": 1, "Bar": 2, "password": 3, "card": "4111 1111 1111 1111"}})
    # Only the configured keys; no card-number rule here.
    assert out["extra"] == {"my_foo": MASK, "Bar": MASK, "password": 3, "card": "4111 1111 1111 1111"}


def test_sanitize_keys_processor_requires_the_setting() -> None:
    with pytest.raises(ValueError, match="sanitize_keys"):
        SanitizeKeysProcessor(FakeClient()).process({"extra": {"a": 1}})


def test_sanitize_keys_change_is_picked_up() -> None:
    client = FakeClient(sanitize_keys=["foo"])
    proc = SanitizeKeysProcessor(client)
    assert proc.process({"extra": {"foo": 1, "bar": 2}})["extra"] == {"foo": MASK, "bar": 2}
    client.sanitize_keys = ["bar"]
    assert proc.process({"extra": {"foo": 1, "bar": 2}})["extra"] == {"foo": 1, "bar": MASK}


def test_remove_post_data() -> None:
    out = RemovePostDataProcessor(FakeClient()).process(sample_event())
    assert "data" not in out["request"]
    assert out["request"]["query_string"] == "a=1&access_token=tok&b"


def test_remove_stack_locals_from_every_stacktrace() -> None:
    out = RemoveStackLocalsProcessor(FakeClient()).process(sample_event())
    for value in out["exception"]["values"]:
        assert all("vars" not in f for f in value["stacktrace"]["frames"])
    assert all("vars" not in f for f in out["stacktrace"]["frames"])
    assert out["extra"]["password"] == "x"


class UpperSanitizer(SanitizePasswordsProcessor):
    """A raven 6.10-style subclass overriding the per-value hook."""

    def sanitize(self, item: Any, value: Any) -> Any:
        value = super().sanitize(item, value)
        if isinstance(value, str) and value != self.MASK:
            return value.upper()
        return value


def test_subclass_sanitize_override_is_honoured() -> None:
    out = UpperSanitizer(FakeClient()).process({"extra": {"name": "bob", "password": "x", "l": ["a"]}})
    assert out["extra"] == {"name": "BOB", "password": MASK, "l": ["A"]}


class SameAsParent(SanitizePasswordsProcessor):
    def sanitize(self, item: Any, value: Any) -> Any:
        return super().sanitize(item, value)


def test_fast_path_matches_the_generic_path() -> None:
    fast = SanitizePasswordsProcessor(FakeClient()).process(sample_event())
    generic = SameAsParent(FakeClient()).process(sample_event())
    assert fast == generic


def test_processors_do_not_raise_on_odd_shapes() -> None:
    odd: list[dict[str, Any]] = [
        {},
        {"exception": {}},
        {"exception": {"values": None}},
        {
            "exception": {
                "values": [None, {"stacktrace": None}, {"stacktrace": {"frames": [None, {"vars": None}]}}]
            }
        },
        {"request": "not a dict"},
        {"request": {"headers": {"Cookie": None}}},
        {"extra": None},
        {"breadcrumbs": [{"data": {"password": 1}}, "x"]},
        {"stacktrace": {"frames": "nope"}},
        {"threads": {"values": [{"stacktrace": {"frames": [{"vars": {"secret": 1}}]}}]}},
    ]
    for proc_cls in (
        SanitizePasswordsProcessor,
        RemovePostDataProcessor,
        RemoveStackLocalsProcessor,
        Processor,
    ):
        for event in odd:
            proc_cls(FakeClient()).process(copy.deepcopy(event))
    out = SanitizePasswordsProcessor(FakeClient()).process({"breadcrumbs": [{"data": {"password": 1}}]})
    assert out["breadcrumbs"][0]["data"] == {"password": MASK}


def test_cycles_in_unsanitized_data() -> None:
    cyc: dict[str, Any] = {"password": "p"}
    cyc["self"] = cyc
    assert varmap(lambda k, v: v, [1, [2]]) == [1, [2]]
    out = varmap(lambda k, v: v, cyc)
    assert out["self"] == "<...>"


def test_get_data_replaces_the_event() -> None:
    class Replacer(Processor):
        def get_data(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return {"replaced": True}

    assert Replacer(FakeClient()).process({"a": 1}) == {"replaced": True}


def test_fields_is_deprecated() -> None:
    proc = SanitizePasswordsProcessor(FakeClient())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert proc.FIELDS == SanitizePasswordsProcessor.KEYS
    assert caught and caught[0].category is DeprecationWarning


def test_raven_610_constants() -> None:
    assert SanitizePasswordsProcessor.MASK == MASK
    assert (
        frozenset(
            [
                "password",
                "secret",
                "passwd",
                "authorization",
                "api_key",
                "apikey",
                "sentry_dsn",
                "access_token",
            ]
        )
        == SanitizePasswordsProcessor.KEYS
    )
    assert SanitizePasswordsProcessor.VALUES_RE.pattern == r"^(?:\d[ -]*?){13,16}$"
