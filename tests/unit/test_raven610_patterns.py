"""Patterns real raven 6.10 code uses, and what it sees: the in-process event, the send chain and
its hooks, ``client.state``, ``is_enabled()``, processors, third-party transports."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json
import logging
import sys
import zlib
from typing import Any, Optional

import pytest

from raven import Client
from raven.exceptions import APIError, RateLimited
from raven.handlers.logging import SentryHandler
from raven.transport.base import AsyncTransport, Transport
from raven.transport.http import HTTPTransport

HOOKS_OFF: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}
DSN = "http://public:secret@sentry.invalid:9000/42"


class Recorder(Transport):
    """A raven 6.10-style transport: records what it is given."""

    last: Recorder

    def __init__(self, **options: Any) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        Recorder.last = self

    def send(self, url: str, data: bytes, headers: Any) -> None:
        self.calls.append((url, data, dict(headers)))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(zlib.decompress(data)) for _, data, _ in self.calls]


class Refusing(Transport):
    status = 400

    def send(self, url: str, data: bytes, headers: Any) -> None:
        if self.status == 429:
            raise RateLimited("slow down", 30)
        raise APIError("refused by the test", self.status)


class MemoryClient(Client):
    """The test double raven users copy: enabled without a DSN, ``send`` records the event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.events: list[dict[str, Any]] = []
        super().__init__(*args, **{**HOOKS_OFF, **kwargs})

    def is_enabled(self) -> bool:
        return True

    def send(self, auth_header: Any = None, **data: Any) -> None:
        self.events.append(data)


# -- the in-process event


def test_a_test_double_without_dsn_sees_raven_610_events() -> None:
    client = MemoryClient()
    event_id = client.captureMessage("hello %s", params=("world",), tags={"n": 1}, extra={"k": [1, 2]})
    [event] = client.events
    assert event["event_id"] == event_id and client.last_event_id == event_id
    assert event["message"] == "hello %s"
    interface = event["sentry.interfaces.Message"]
    # raven 6.10's serializer forms: strings, numbers, booleans as their repr, sequences as tuples.
    assert interface["message"] == "hello %s" and interface["params"] == ("'world'",)
    assert event["level"] == logging.ERROR
    assert isinstance(event["timestamp"], datetime.datetime) and event["timestamp"].tzinfo is None
    assert event["time_spent"] is None and event["project"] is None
    assert event["platform"] == "python" and "repos" in event and "modules" in event
    assert event["tags"] == {"n": "1"}
    assert event["extra"]["k"] == ("1", "2")


def test_exception_and_query_events_in_raven_610_shape() -> None:
    client = MemoryClient()
    try:
        raise ValueError("boom")
    except ValueError:
        client.captureException(level=logging.WARNING)
    client.captureQuery("SELECT 1", engine="sqlite")
    exception, query = client.events
    assert exception["message"] == "ValueError: boom"
    assert exception["level"] == logging.WARNING
    assert exception["exception"]["values"][-1]["type"] == "ValueError"
    assert query["sentry.interfaces.Query"] == {"query": "SELECT 1", "engine": "sqlite"}
    assert query["message"] == "SELECT 1"


def test_build_msg_returns_the_event_without_sending() -> None:
    client = MemoryClient()
    event = client.build_msg("raven.events.Message", message="built", data={"culprit": "here"})
    assert event is not None and event["message"] == "built" and event["culprit"] == "here"
    assert client.events == []


def test_is_enabled_is_the_switch() -> None:
    class Off(Client):
        def is_enabled(self) -> bool:
            return False

    client = Off(DSN, transport=Recorder, **HOOKS_OFF)
    assert client.captureMessage("not sent") is None
    assert client.flush(1)
    assert Recorder.last.calls == []


def test_a_processor_returning_a_partial_dict_is_merged() -> None:
    class Partial:
        def __init__(self, client: Any) -> None:
            pass

        def process(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return {"extra": {**data["extra"], "processed": True}}

    client = MemoryClient(processors=[Partial])
    client.captureMessage("kept", extra={"n": 3})
    [event] = client.events
    assert event["message"] == "kept" and event["extra"]["processed"] == "True"
    assert event["extra"]["n"] == "3"


def test_processors_see_extra_values_as_given() -> None:
    seen: list[Any] = []

    class Looking:
        def __init__(self, client: Any) -> None:
            pass

        def process(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            seen.append(data["extra"]["card"])
            return data

    MemoryClient(processors=[Looking]).captureMessage("x", extra={"card": {"n": 4242}})
    assert seen == [{"n": 4242}]  # raven 6.10 serialized extra after the processors


class EnvelopeRecorder(Recorder):
    accepts_envelopes = True

    def events(self) -> list[dict[str, Any]]:
        found = []
        for _, data, _ in self.calls:
            lines = gzip.decompress(data).split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2]):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


def test_the_wire_event_is_sentrys_protocol() -> None:
    client = Client(DSN, transport=EnvelopeRecorder, **HOOKS_OFF)
    client.captureMessage("hello %s", params=("world",))
    assert client.flush(5)
    [event] = Recorder.last.events()
    assert event["logentry"] == {"message": "hello %s", "params": ["world"], "formatted": "hello world"}
    assert event["extra"]["sys.argv"] == list(sys.argv)  # JSON types back from raven's forms
    assert event["level"] == "error"
    assert isinstance(event["timestamp"], float)
    for legacy in ("message", "sentry.interfaces.Message", "project", "time_spent", "repos"):
        assert legacy not in event
    assert "runtime" in event["contexts"]


# -- the send chain and its hooks


def test_send_remote_override_sees_raven_610_arguments_and_super_delivers() -> None:
    seen: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    class Watching(Client):
        def send_remote(self, url: Any, data: bytes, headers: Optional[Any] = None) -> None:
            seen.append((url, self.decode(data), dict(headers or {})))
            super().send_remote(url, data, headers)

    client = Watching(DSN, transport=Recorder, **HOOKS_OFF)
    event_id = client.captureMessage("through the chain")
    assert client.flush(5)
    [(url, event, headers)] = seen
    assert url == "http://sentry.invalid:9000/api/42/store/"
    assert event["event_id"] == event_id and event["message"] == "through the chain"
    assert event["timestamp"].endswith("Z")  # raven's JSON encoding of the datetime
    assert "sentry_key=public" in headers["X-Sentry-Auth"]
    assert [e["event_id"] for e in Recorder.last.events()] == [event_id]


def test_an_encode_override_takes_effect_and_a_send_remote_override_can_stop_delivery() -> None:
    class Tagging(Client):
        def encode(self, data: Any) -> bytes:
            data = dict(data, tags={**data["tags"], "encoded": "yes"})
            return super().encode(data)

    client = Tagging(DSN, transport=Recorder, **HOOKS_OFF)
    client.captureMessage("tagged")
    assert client.flush(5)
    assert Recorder.last.events()[0]["tags"]["encoded"] == "yes"

    class Swallowing(Client):
        def send_remote(self, url: Any, data: bytes, headers: Optional[Any] = None) -> None:
            pass

    quiet = Swallowing(DSN, transport=Recorder, **HOOKS_OFF)
    quiet.captureMessage("kept here")
    assert quiet.flush(5)
    assert Recorder.last.calls == []


@pytest.mark.parametrize("status", [400, 429])
def test_failed_and_successful_send_hooks_and_client_state(status: int) -> None:
    calls: list[tuple[str, Any]] = []

    class Hooked(Client):
        def _successful_send(self) -> None:
            calls.append(("ok", None))
            super()._successful_send()

        def _failed_send(self, exc: BaseException, url: Any, data: Any) -> None:
            calls.append(("failed", (type(exc).__name__, getattr(exc, "code", None), url, data["event_id"])))
            super()._failed_send(exc, url, data)

    Refusing.status = status
    client = Hooked(DSN, transport=Refusing, **HOOKS_OFF)
    assert not client.state.did_fail() and client.state.should_try()
    event_id = client.captureMessage("refused")
    assert client.flush(5)
    expected = "RateLimited" if status == 429 else "APIError"
    assert calls == [("failed", (expected, status, "http://sentry.invalid:9000/api/42/store/", event_id))]
    assert client.state.did_fail() and client.state.status == client.state.ERROR
    if status == 429:
        assert not client.state.should_try() and 0 < client.state.retry_after <= 30
    else:
        assert client.state.should_try()

    Refusing.status = 400
    good = Hooked(DSN, transport=Recorder, **HOOKS_OFF)
    calls.clear()
    good.captureMessage("delivered")
    assert good.flush(5)
    assert calls == [("ok", None)]
    assert not good.state.did_fail()


def test_state_setters_still_work() -> None:
    client = Client(DSN, transport=Recorder, **HOOKS_OFF)
    client.state.set_fail(retry_after=5)
    assert client.state.did_fail() and client.state.retry_number == 1
    client.state.set_success()
    assert not client.state.did_fail()


# -- third-party transports written for raven 6.10


def test_an_asyncio_add_on_transport_written_for_raven_610() -> None:
    """The shape of the maintained aiohttp add-on: subclasses AsyncTransport and HTTPTransport,
    checks ``has_newstyle_transports`` and calls ``async_send``'s callbacks from its loop."""
    from raven.conf import defaults
    from raven.transport import base

    posted: list[tuple[str, bytes, dict[str, str]]] = []

    class AddOnTransport(AsyncTransport, HTTPTransport):
        def __init__(
            self, parsed_url: Any = None, *, verify_ssl: bool = True, timeout: Any = defaults.TIMEOUT
        ) -> None:
            if base.has_newstyle_transports:
                if parsed_url is not None:
                    raise TypeError("transport got an unexpected argument")
                super().__init__(verify_ssl=verify_ssl, timeout=timeout)
            else:  # pragma: no cover - raven < 6 path
                super().__init__(parsed_url, verify_ssl=verify_ssl, timeout=timeout)
            self._loop = asyncio.new_event_loop()

        def async_send(self, url: str, data: bytes, headers: Any, success_cb: Any, failure_cb: Any) -> None:
            async def post() -> None:
                posted.append((url, data, dict(headers)))
                success_cb()

            self._loop.run_until_complete(post())

    client = Client(DSN + "?timeout=2", transport=AddOnTransport, **HOOKS_OFF)
    client.captureMessage("from the add-on")
    assert client.flush(5)
    [(url, _, headers)] = posted
    assert url.endswith("/api/42/envelope/")  # it subclasses HTTPTransport: envelopes
    assert client.delivery_stats()["sent"] == 1


def test_a_transport_with_a_scheme_of_its_own() -> None:
    class FluentdTransport(Recorder):
        pass

    client = Client("fluentd://public@logs.internal:24224/7", transport=FluentdTransport, **HOOKS_OFF)
    client.captureMessage("to fluentd")
    assert client.flush(5)
    [(url, data, headers)] = Recorder.last.calls
    assert url == "fluentd://logs.internal:24224/api/7/store/"
    assert json.loads(zlib.decompress(data))["message"] == "to fluentd"  # as raven 6.10 encoded it
    assert headers["Content-Encoding"] == "deflate"


def test_http_transport_takes_none_for_the_defaults() -> None:
    transport = HTTPTransport(timeout=None, verify_ssl=None, ca_certs=None)
    assert transport.timeout == 1.0 and transport.verify_ssl is True


def test_sentry_handler_with_a_test_double() -> None:
    client = MemoryClient()
    logger = logging.getLogger("raven610.patterns")
    logger.propagate = False
    handler = SentryHandler(client, level=logging.WARNING)
    logger.addHandler(handler)
    try:
        logger.warning("disk %s is full", "/var")
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("lookup failed for %s", "k")
    finally:
        logger.removeHandler(handler)
    message, exception = client.events
    assert message["message"] == "disk /var is full"
    assert message["sentry.interfaces.Message"]["message"] == "disk %s is full"
    assert message["level"] == logging.WARNING and message["logger"] == "raven610.patterns"
    assert exception["message"] == "lookup failed for k"
    assert exception["exception"]["values"][-1]["type"] == "KeyError"
    assert exception["level"] == logging.ERROR
