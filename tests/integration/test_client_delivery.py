"""Client -> real loopback server, through the built-in transports: what arrives, and that Sentry's
own normalizer accepts it."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Iterator

import pytest
from pipeline import Clients, normalizer_errors

from raven import Client
from raven.transport.http import HTTPTransport
from raven.transport.threaded import ThreadedHTTPTransport

TRANSPORTS = [HTTPTransport, ThreadedHTTPTransport]


def only_event(server: Any, client: Client) -> dict[str, Any]:
    assert client.flush(10)
    server.wait_until(lambda requests: any(r.events() for r in requests), what="an event")
    events = server.events()
    assert len(events) == 1, events
    return events[0]


@pytest.fixture
def make_client() -> Iterator[Clients]:
    clients = Clients()
    yield clients
    clients.close_all()


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.__name__)
def test_message_event(http_server: Any, make_client: Any, transport: type) -> None:
    client = make_client(
        http_server.dsn(), transport=transport, release="9.9", environment="test", tags={"k": 1}
    )
    client.user_context({"id": "u1"})
    client.captureBreadcrumb(message="before", category="test")
    event_id = client.captureMessage(
        "hello %s", params=("server",), level=logging.WARNING, extra={"n": [1, 2]}
    )
    event = only_event(http_server, client)

    request = http_server.requests[0]
    assert request.is_envelope
    assert request.path == "/api/1/envelope/"
    assert request.headers["content-encoding"] == "gzip"
    assert request.auth["sentry_key"] == "public"
    assert request.headers["user-agent"].startswith("raven-ng/")

    assert event["event_id"] == event_id and re.fullmatch(r"[0-9a-f]{32}", event_id)
    assert event["level"] == "warning"
    assert event["logentry"] == {"message": "hello %s", "params": ["server"], "formatted": "hello server"}
    assert event["release"] == "9.9" and event["environment"] == "test"
    assert event["tags"] == {"k": "1"}
    assert event["user"] == {"id": "u1"}
    assert event["extra"]["n"] == [1, 2]
    assert event["breadcrumbs"]["values"][-1]["message"] == "before"
    assert event["sdk"]["name"] == "raven-ng"
    assert normalizer_errors(event) is None
    assert client.delivery_stats()["sent"] == 1


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.__name__)
def test_exception_event(http_server: Any, make_client: Any, transport: type) -> None:
    client = make_client(http_server.dsn(prefix="/sentry", project="7"), transport=transport)

    def inner(value: int) -> None:
        local_list = list(range(value))  # noqa: F841
        raise ValueError(f"bad value {value}")

    try:
        try:
            inner(3)
        except ValueError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError:
        event_id = client.captureException(tags={"where": "test"})
    event = only_event(http_server, client)
    assert http_server.requests[0].path == "/sentry/api/7/envelope/"
    assert event["event_id"] == event_id
    assert event["level"] == "error"
    values = event["exception"]["values"]
    assert [v["type"] for v in values] == ["ValueError", "RuntimeError"]
    assert values[0]["value"] == "bad value 3"
    innermost = values[0]["stacktrace"]["frames"][-1]
    assert innermost["function"] == "inner"
    assert innermost["vars"]["local_list"] == [0, 1, 2]
    assert innermost["in_app"] in (True, False)
    assert values[1]["mechanism"]["handled"] is True
    assert event["tags"] == {"where": "test"}
    assert normalizer_errors(event) is None


def test_store_protocol(http_server: Any, make_client: Any) -> None:
    client = make_client(http_server.dsn(query="protocol=store"), transport=HTTPTransport)
    client.captureMessage("to the store endpoint")
    event = only_event(http_server, client)
    assert http_server.requests[0].is_store
    assert event["logentry"]["formatted"] == "to the store endpoint"
    assert normalizer_errors(event) is None


def test_many_threads_capture_concurrently(http_server: Any, make_client: Any) -> None:
    client = make_client(http_server.dsn(), transport=ThreadedHTTPTransport)
    ids: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        client.tags_context({"worker": str(n)})
        for i in range(10):
            event_id = client.captureMessage(f"w{n} m{i}")
            with lock:
                ids.append(event_id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert client.flush(20)
    http_server.wait_until(lambda requests: sum(len(r.events()) for r in requests) >= 50, what="50 events")
    events = http_server.events()
    assert sorted(e["event_id"] for e in events) == sorted(ids)
    for event in events:
        assert event["logentry"]["formatted"].startswith(f"w{event['tags']['worker']} ")


def test_refused_server_is_counted_not_raised(refused_dsn: Any, make_client: Any) -> None:
    client = make_client(refused_dsn(query="timeout=2"), transport=ThreadedHTTPTransport)
    assert client.captureMessage("nobody listens") is not None
    assert client.flush(0.3) is False  # the event waits for the server to come back ...
    client.close(0)
    assert client.delivery_stats()["lost"] == {"network_error:error": 1}  # ... until the close
