"""raven 6.10's event classes, importable from raven.events, giving raven 6.10's event fields."""

from __future__ import annotations

from typing import Any

import pytest

from raven.events import BaseEvent, EventSettings, Message, Query
from raven.events import Exception as ExceptionEvent


class FakeClient:
    _settings = EventSettings(capture_locals=False)

    def transform(self, value: Any) -> Any:
        return ("transformed", value)


def test_exception_event_captures_the_current_exception() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        data = ExceptionEvent(FakeClient()).capture()
    values = data["exception"]["values"]
    assert values[-1]["type"] == "KeyError"
    assert all("vars" not in f for f in values[-1]["stacktrace"]["frames"])  # the client's settings
    assert ExceptionEvent(FakeClient()).to_string(data) == "KeyError: 'k'"


def test_exception_event_without_an_exception() -> None:
    with pytest.raises(ValueError, match="No exception found"):
        ExceptionEvent(FakeClient()).capture(exc_info=(None, None, None))


def test_message_and_query() -> None:
    data = Message(FakeClient()).capture("hello %s", ("world",))
    assert data == {
        "sentry.interfaces.Message": {
            "message": "hello %s",
            "params": ("transformed", ("world",)),  # the client's transform, as raven 6.10
            "formatted": None,
        },
        "message": "hello %s",
    }
    assert Message(None).to_string(data) == "hello %s"
    custom = Message(None).capture("m", formatted="custom")
    assert custom["sentry.interfaces.Message"]["formatted"] == "custom" and custom["message"] == "custom"
    q = Query(None).capture("SELECT 1", "postgresql")
    assert q == {"sentry.interfaces.Query": {"query": "SELECT 1", "engine": "postgresql"}}
    assert Query(None).to_string(q) == "SELECT 1"


def test_custom_event_subclass() -> None:
    class MyEvent(BaseEvent):
        def capture(self, **kwargs: Any) -> dict[str, Any]:
            return {"extra": {"payload": self.transform(kwargs["payload"])}}

    assert MyEvent(FakeClient()).capture(payload=1) == {"extra": {"payload": ("transformed", 1)}}
    assert BaseEvent(object()).transform({1: float("nan")}) == {"1": "nan"}
    with pytest.raises(NotImplementedError):
        BaseEvent(None).to_string({})
