"""encode_event: strict compact JSON, never raising, trimmed under the size limit; and every
event shape the events package produces passes Sentry's own normalizer without errors."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

import pytest
from test_events_serialize import CATALOGUE

from raven.events import (
    DEFAULT_SETTINGS,
    MAX_EVENT_BYTES,
    MAX_STORE_BYTES,
    EventSettings,
    current_stacktrace,
    encode_event,
    exception_values,
    logentry,
    safe_value,
)

StoreNormalizer: Any
try:
    from sentry_relay.processing import StoreNormalizer
except ImportError:  # pragma: no cover - the dev venv has it
    StoreNormalizer = None

needs_relay = pytest.mark.skipif(StoreNormalizer is None, reason="sentry-relay not installed")


def event_for_tests(**fields: Any) -> dict[str, Any]:
    """A complete event as the Client builds it, around the given parts."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "level": "error",
        "platform": "python",
        "logger": "tests",
        "server_name": "test-host",
        "sdk": {"name": "raven-ng", "version": "7.0.0"},
        "tags": {"site": "test"},
        "extra": {},
    }
    event.update(fields)
    return event


def parse(body: bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(body.decode("utf-8"), parse_constant=no_constants)


def normalize(body: bytes) -> dict[str, Any]:
    result: dict[str, Any] = StoreNormalizer().normalize_event(raw_event=body)
    assert "errors" not in result, json.dumps(result.get("errors"), indent=1)
    return result


def raise_chain() -> Any:
    def root() -> None:
        password = "hunter2"
        numbers = list(range(100))
        raise KeyError(f"missing {password[:0]}{len(numbers)}")

    def wrap() -> None:
        try:
            root()
        except KeyError as e:
            raise RuntimeError("wrapped") from e

    try:
        wrap()
    except RuntimeError:
        return sys.exc_info()
    raise AssertionError


def big_locals_stack(depth: int) -> Any:
    def level(n: int) -> None:
        blob = "b" * 60_000
        rows = [{"id": i, "payload": "p" * 300} for i in range(200)]
        if n == 0:
            raise ValueError(f"deep failure {len(blob)} {len(rows)}")
        level(n - 1)

    try:
        level(depth)
    except ValueError:
        return sys.exc_info()
    raise AssertionError


# --- encoding --------------------------------------------------------------------------------


def test_compact_and_strict() -> None:
    body = encode_event({"a": [1, 2], "b": {"c": "d"}})
    assert body == b'{"a":[1,2],"b":{"c":"d"}}'


def test_utf8_not_escaped() -> None:
    assert encode_event({"a": "héllo ☃"}) == '{"a":"héllo ☃"}'.encode()


def test_values_json_refuses_become_safe() -> None:
    cyc: list[Any] = []
    cyc.append(cyc)
    event = {
        "nan": float("nan"),
        "obj": object(),
        "cyc": cyc,
        "tuple_key": {(1, 2): "v"},
        "big": 10**5000,
        "surrogate": "a\ud800",
        "set": {1},
    }
    out = parse(encode_event(event))
    assert out["nan"] == "nan"
    assert out["obj"].startswith("<object object at")
    assert out["cyc"] == ["<cyclic>"]
    assert out["tuple_key"] == {"(1, 2)": "v"}
    assert out["big"].startswith("<int with")
    assert out["surrogate"] == "a?"
    assert out["set"] == [1]


def test_surrogates_on_the_fast_path() -> None:
    out = parse(encode_event({"k\udc80": "v\ud800"}))
    assert out == {"k?": "v?"}


def test_encode_never_raises_on_the_catalogue() -> None:
    parse(encode_event({"extra": CATALOGUE}))


def test_encode_does_not_mutate_the_event() -> None:
    event = event_for_tests(extra={"big": "x" * 3_000_000})
    encode_event(event)
    assert len(event["extra"]["big"]) == 3_000_000


# --- trimming --------------------------------------------------------------------------------


def test_hundred_frames_of_huge_locals_are_trimmed_keeping_the_essentials(caplog: Any) -> None:
    generous = EventSettings(
        string_max_length=100_000, list_max_length=1000, max_frame_vars_size=10**7, max_frames_with_vars=200
    )
    values = exception_values(big_locals_stack(99), generous)
    frames = values[-1]["stacktrace"]["frames"]
    assert len(frames) == 101
    event = event_for_tests(
        exception={"values": values}, extra={"big": "e" * 5_000_000, "many": list(range(100_000))}
    )
    raw = json.dumps(event)
    assert len(raw) > 10 * MAX_EVENT_BYTES

    with caplog.at_level(logging.WARNING, logger="raven.errors"):
        body = encode_event(event)
    assert len(body) <= MAX_EVENT_BYTES
    assert "trimmed" in caplog.text
    out = parse(body)
    exc = out["exception"]["values"][-1]
    assert exc["type"] == "ValueError"
    assert exc["value"] == "deep failure 60000 200"
    kept = exc["stacktrace"]["frames"]
    assert kept[0]["function"] == "big_locals_stack"
    assert kept[0]["lineno"] == frames[0]["lineno"]
    assert kept[-1]["function"] == "level"
    assert kept[-1]["lineno"] == frames[-1]["lineno"]
    assert kept[-1]["context_line"] == frames[-1]["context_line"]
    # The innermost frame's locals are the last thing dropped: they survive here.
    assert "vars" in kept[-1]
    assert out["event_id"] == event["event_id"]
    normalize(body)


def test_five_megabyte_string_costs_the_string_not_the_locals() -> None:
    values = exception_values(raise_chain(), DEFAULT_SETTINGS)
    event = event_for_tests(exception={"values": values}, extra={"big": "e" * 5_000_000})
    body = encode_event(event)
    assert len(body) <= MAX_EVENT_BYTES
    out = parse(body)
    assert out["extra"]["big"].startswith("eee")
    assert len(out["extra"]["big"]) <= 16 * 1024
    assert out["exception"]["values"][-1]["stacktrace"]["frames"][-1]["vars"]
    assert out["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"]["password"] == "hunter2"


def test_hundred_thousand_item_list() -> None:
    event = event_for_tests(message="m", extra={"many": [f"item-{i}" for i in range(100_000)]})
    body = encode_event(event, max_bytes=MAX_STORE_BYTES)
    assert len(body) <= MAX_STORE_BYTES
    assert parse(body)["extra"]["many"][:2] == ["item-0", "item-1"]


def test_breadcrumbs_keep_the_newest() -> None:
    crumbs = [{"timestamp": 1700000000 + i, "message": f"crumb {i} " + "c" * 1000} for i in range(2000)]
    event = event_for_tests(message="m", breadcrumbs={"values": crumbs})
    body = encode_event(event, max_bytes=MAX_STORE_BYTES)
    assert len(body) <= MAX_STORE_BYTES
    kept = parse(body)["breadcrumbs"]["values"]
    assert kept[-1]["message"].startswith("crumb 1999 ")
    normalize(body)


def test_minimal_event_when_nothing_else_fits() -> None:
    values = exception_values(raise_chain(), DEFAULT_SETTINGS)
    event = event_for_tests(
        exception={"values": values},
        tags={f"t{i}": "v" * 100 for i in range(5)},
        extra={f"k{i}": "x" * 300 for i in range(1000)},
    )
    body = encode_event(event, max_bytes=3000)
    assert len(body) <= 3000
    out = parse(body)
    assert [v["type"] for v in out["exception"]["values"]] == ["KeyError", "RuntimeError"]
    assert out["exception"]["values"][-1]["stacktrace"]["frames"][-1]["function"] == "wrap"
    normalize(body)


def test_impossible_limit_still_returns_json() -> None:
    body = encode_event(event_for_tests(message="x" * 10_000), max_bytes=10)
    parse(body)


# --- every shape through Sentry's normalizer --------------------------------------------------


@needs_relay
def test_relay_message_event() -> None:
    body = encode_event(event_for_tests(logentry=logentry("hello world"), message="hello world"))
    out = normalize(body)
    assert out["logentry"]["formatted"] == "hello world"


@needs_relay
def test_relay_message_with_params() -> None:
    entry = logentry("user %s did %d things: %r", ("bob", 3, {"a": float("nan")}))
    assert entry["formatted"] == "user bob did 3 things: {'a': nan}"
    out = normalize(encode_event(event_for_tests(logentry=entry)))
    assert out["logentry"]["params"] == ["bob", 3, {"a": "nan"}]


@needs_relay
def test_relay_message_with_mapping_params_and_bad_params() -> None:
    normalize(encode_event(event_for_tests(logentry=logentry("%(a)s!", {"a": 1}))))
    normalize(encode_event(event_for_tests(logentry=logentry("%s %s", ("only one",)))))
    normalize(
        encode_event(
            event_for_tests(logentry=logentry(CATALOGUE["bad_repr"], CATALOGUE["hostile_everything"]))
        )
    )


@needs_relay
def test_relay_exception_event() -> None:
    empty: dict[str, int] = {}
    try:
        empty["missing"]
    except KeyError:
        values = exception_values(
            sys.exc_info(), DEFAULT_SETTINGS, handled=False, mechanism_type="excepthook"
        )
    out = normalize(encode_event(event_for_tests(exception={"values": values})))
    assert out["exception"]["values"][0]["type"] == "KeyError"
    assert out["exception"]["values"][0]["mechanism"]["handled"] is False


@needs_relay
def test_relay_chained_exception_event() -> None:
    values = exception_values(raise_chain(), DEFAULT_SETTINGS)
    out = normalize(encode_event(event_for_tests(exception={"values": values})))
    assert [v["type"] for v in out["exception"]["values"]] == ["KeyError", "RuntimeError"]


@needs_relay
def test_relay_message_with_stack() -> None:
    stack = current_stacktrace(DEFAULT_SETTINGS)
    out = normalize(encode_event(event_for_tests(logentry=logentry("with stack"), stacktrace=stack)))
    assert out["stacktrace"]["frames"][-1]["function"] == "test_relay_message_with_stack"


@needs_relay
def test_relay_trimmed_event() -> None:
    generous = EventSettings(string_max_length=100_000, max_frame_vars_size=10**7, max_frames_with_vars=200)
    values = exception_values(big_locals_stack(60), generous)
    body = encode_event(event_for_tests(exception={"values": values}, extra={"big": "e" * 5_000_000}))
    assert len(body) <= MAX_EVENT_BYTES
    normalize(body)


@needs_relay
def test_relay_hostile_extra() -> None:
    event = event_for_tests(logentry=logentry("hostile"), extra=safe_value(CATALOGUE))
    normalize(encode_event(event))
    # Straight objects in extra (no safe_value first) must come out normalizable too.
    normalize(encode_event(event_for_tests(logentry=logentry("raw"), extra=CATALOGUE)))


@needs_relay
def test_relay_hostile_locals_and_values() -> None:
    def hostile() -> None:
        values = CATALOGUE  # noqa: F841
        raise ValueError("\ud800 surrogate value " + "v" * 20_000)

    try:
        hostile()
    except ValueError:
        exc = exception_values(sys.exc_info(), DEFAULT_SETTINGS)
    normalize(encode_event(event_for_tests(exception={"values": exc})))


@needs_relay
@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are 3.11+")
def test_relay_exception_group() -> None:
    from test_events_stack import raise_group

    try:
        raise_group()
    except Exception:
        values = exception_values(sys.exc_info(), DEFAULT_SETTINGS)
    out = normalize(encode_event(event_for_tests(exception={"values": values})))
    assert out["exception"]["values"][-1]["mechanism"]["is_exception_group"] is True
    assert out["exception"]["values"][0]["mechanism"]["parent_id"] == 2
