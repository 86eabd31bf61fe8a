"""The threaded transport (the default) against real loopback servers, through the real core."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import pytest
from pipeline import Pipeline
from servers import Answer, LoopbackServer, RecordedRequest, SilentServer, refused_port

from raven._delivery.dsn import Dsn
from raven._runtime.worker import Worker
from raven.exceptions import InvalidDsn
from raven.transport.registry import make_transport
from raven.transport.threaded import ThreadedHTTPTransport

Build = Callable[..., Pipeline]


def test_delivers_and_reuses_connections(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(prefix="/p", query="max_connections=2"))
    assert isinstance(p.dispatcher, Worker)
    items = [p.submit(f"event {i}") for i in range(200)]
    assert p.flush(10)
    requests = http_server.wait_for_requests(200)
    assert {r.path for r in requests} == {"/p/api/1/envelope/"}
    assert {r.envelope[0]["event_id"] for r in requests} == {i.event_id for i in items}
    assert all(r.headers["content-encoding"] == "gzip" and r.auth["sentry_version"] == "7" for r in requests)
    assert http_server.connections <= 2
    assert p.sent == 200


def test_one_connection_for_a_trickle(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn())
    for i in range(5):
        p.submit(f"event {i}")
        assert p.flush(5)
    assert http_server.connections == 1
    assert p.dispatcher.senders == 1  # type: ignore[attr-defined]


def test_threads_start_lazily(http_server: LoopbackServer, pipeline: Build) -> None:
    before = threading.active_count()
    p = pipeline(http_server.dsn())
    assert threading.active_count() == before
    p.submit()
    assert p.flush(5)
    assert http_server.connections == 1


def test_submit_does_not_wait_for_silent_server(silent_server: SilentServer, pipeline: Build) -> None:
    p = pipeline(silent_server.dsn(query="timeout=0.5"))
    started = time.monotonic()
    for _ in range(10):
        p.submit()
    assert time.monotonic() - started < 0.4  # far below one timeout: the caller never waited
    # One request at a time, each giving up after 0.5 s, then a pause that doubles: the rest wait.
    silent_server.wait_for_connections(2, timeout=5)
    started = time.monotonic()
    p.close(0.5)
    assert time.monotonic() - started < 1.5
    # Every event is accounted for when close returns.
    assert p.sent == 0
    assert p.lost("network_error:error") == 10
    assert silent_server.connections <= 3


def test_bounded_queue_with_never_answering_server(silent_server: SilentServer, pipeline: Build) -> None:
    p = pipeline(silent_server.dsn(query="queue_size=100&timeout=5&max_connections=2"))
    worker = p.dispatcher
    assert isinstance(worker, Worker)
    started = time.monotonic()
    for i in range(1000):
        p.submit(f"event {i}")
    assert time.monotonic() - started < 5.0
    assert worker.queued <= 100
    overflow = p.lost("queue_overflow:error")
    # One in flight at most (the server never answered) besides the 100 queued.
    assert 1000 - 100 - 1 <= overflow <= 1000 - 100
    started = time.monotonic()
    assert p.flush(0.3) is False
    assert time.monotonic() - started < 2.0
    p.close(0)
    assert worker.queued == 0
    # What was queued or in flight at close: not sent for want of an answer, not an overflow.
    assert p.lost("network_error:error") == 1000 - overflow
    assert p.sent == 0
    p.submit()  # after close: dropped and counted, never raises
    assert p.lost("queue_overflow:error") == overflow + 1


def test_queue_bounded_by_bytes(silent_server: SilentServer, pipeline: Build) -> None:
    p = pipeline(silent_server.dsn(query="queue_bytes=4096&timeout=5&max_connections=1"))
    for i in range(100):
        p.submit("x" * 500 + str(i))  # each event is ~750 bytes of JSON
    worker = p.dispatcher
    assert isinstance(worker, Worker)
    assert 3 <= worker.queued <= 6
    assert p.lost("queue_overflow:error") >= 90


def test_rate_limit_header_stops_further_requests(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(429, {"X-Sentry-Rate-Limits": "60:error:organization"}))
    p = pipeline(http_server.dsn())
    p.submit()
    assert p.flush(5)
    for _ in range(20):
        p.submit()
    assert p.flush(5)
    assert len(http_server.events()) == 1  # later requests carry client reports only
    assert p.lost("ratelimit_backoff:error") == 21
    reports = [rep for r in http_server.requests for rep in r.items_of_type("client_report")]
    reported = sum(
        e["quantity"]
        for rep in reports
        for e in rep["discarded_events"]
        if e["reason"] == "ratelimit_backoff"
    )
    assert reported == 20  # not the event the 429 refused: the server counted that one
    assert len(http_server.requests) == 2  # the event, then one report at the flush


def test_transaction_limit_does_not_stop_errors(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.default = Answer(200, {"X-Sentry-Rate-Limits": "86400:transaction;span:organization"})
    p = pipeline(http_server.dsn())
    for _ in range(10):
        p.submit()
    assert p.flush(5)
    assert p.sent == 10
    p.submit(category="transaction")
    assert p.flush(5)
    assert p.lost("ratelimit_backoff:transaction") == 1
    assert len(http_server.events()) == 10


def test_store_fallback(http_server: LoopbackServer, pipeline: Build) -> None:
    def respond(request: RecordedRequest) -> Optional[Answer]:
        return Answer(404) if request.is_envelope else None

    http_server.responder = respond
    p = pipeline(http_server.dsn())
    item = p.submit()
    assert p.flush(5)
    stored = [r for r in http_server.requests if r.is_store]
    assert [r.json()["event_id"] for r in stored] == [item.event_id]


def by_message(answers: dict[str, Answer]) -> Callable[[RecordedRequest], Optional[Answer]]:
    """A responder answering each event by its message (client reports get the default)."""

    def respond(request: RecordedRequest) -> Optional[Answer]:
        events = request.events()
        return answers.get(events[0]["logentry"]["message"]) if events else None

    return respond


def test_errors_are_counted(
    http_server: LoopbackServer, pipeline: Build, refused_dsn: Callable[..., str]
) -> None:
    # "reset" resets every time: the resend after a reset on a reused connection too.
    http_server.responder = by_message(
        {"413": Answer(413), "500": Answer(500), "reset": Answer(action="reset")}
    )
    p = pipeline(http_server.dsn())
    for message in ("413", "500", "reset", "ok"):
        p.submit(message)
    assert p.flush(5)
    assert p.lost("send_error:error") == 2
    assert p.lost("network_error:error") == 1
    assert p.sent == 1
    refused = pipeline(refused_dsn())
    refused.submit()
    assert refused.flush(0.2) is False  # it waits for the server to come back ...
    refused.close(0)
    assert refused.lost("network_error:error") == 1  # ... until the close counts it


def test_client_report_sent_at_flush(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn())
    p.submit()
    assert p.flush(5)
    p.core.record_lost(
        __import__("raven._delivery.model", fromlist=["Reason"]).Reason.SAMPLE_RATE, "error", 3
    )
    assert p.flush(5)
    reports = [rep for r in http_server.requests for rep in r.items_of_type("client_report")]
    assert (
        reports
        and {"reason": "sample_rate", "category": "error", "quantity": 3} in reports[-1]["discarded_events"]
    )


def test_tls(https_server: LoopbackServer, ca_pem: str, pipeline: Build) -> None:
    rejected = pipeline(https_server.dsn())
    rejected.submit()
    deadline = time.monotonic() + 5
    while https_server.tls_failures < 1:
        assert time.monotonic() < deadline, "no TLS handshake was attempted"
        time.sleep(0.01)
    rejected.close(0)
    assert rejected.lost("network_error:error") == 1
    assert rejected.sent == 0 and len(https_server.requests) == 0
    accepted = pipeline(https_server.dsn(query=f"ca_certs={ca_pem}"))
    accepted.submit()
    assert accepted.flush(5)
    assert accepted.sent == 1


def test_options(http_server: LoopbackServer) -> None:
    transport = make_transport(
        ThreadedHTTPTransport,
        Dsn.parse(http_server.dsn(query="queue_size=5&queue_bytes=2048&max_connections=3")),
    )
    assert (
        transport.options.queue_size,
        transport.options.queue_bytes,
        transport.options.max_connections,
    ) == (
        5,
        2048,
        3,
    )
    with pytest.raises(InvalidDsn, match="max_connections"):
        make_transport(ThreadedHTTPTransport, Dsn.parse(http_server.dsn(query="max_connections=0")))


def test_async_send_of_raven_6_still_works(http_server: LoopbackServer) -> None:
    transport = ThreadedHTTPTransport(timeout=2)
    done = threading.Event()
    results: list[Any] = []
    http_server.script(Answer(), Answer(500, {"X-Sentry-Error": "nope"}))

    def success() -> None:
        results.append("ok")
        if len(results) == 2:
            done.set()

    def failure(exc: BaseException) -> None:
        results.append(exc)
        if len(results) == 2:
            done.set()

    url = http_server.url + "/api/1/store/"
    transport.async_send(url, b"{}", {"Content-Type": "application/json"}, success, failure)
    transport.async_send(url, b"{}", {"Content-Type": "application/json"}, success, failure)
    assert done.wait(10)
    assert results[0] == "ok" and getattr(results[1], "code", None) == 500
    transport.get_worker().stop(1)


def test_subclass_overriding_async_send_is_called(http_server: LoopbackServer, pipeline: Build) -> None:
    calls: list[str] = []

    class Custom(ThreadedHTTPTransport):
        def async_send(self, url: str, data: bytes, headers: Any, success_cb: Any, failure_cb: Any) -> None:
            calls.append(url)
            super().async_send(url, data, headers, success_cb, failure_cb)

    p = pipeline(http_server.dsn(), Custom)
    p.submit()
    assert p.flush(5)
    assert calls == [http_server.url + "/api/1/envelope/"]
    assert p.sent == 1


# -- the server cannot be reached for a while


def _wait_for_hold(p: Pipeline, timeout: float = 5.0) -> float:
    """Poll until the core pauses after a refused connection; the pause in seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pause = p.core.hold(time.monotonic())
        if pause > 0:
            return pause
        time.sleep(0.01)
    raise AssertionError("the worker never paused after a refused connection")


def test_events_survive_a_server_restart(pipeline: Build) -> None:
    refused = refused_port()
    host, port = refused.getsockname()[:2]
    p = pipeline(f"http://public@{host}:{port}/1")
    items = [p.submit(f"event {i}") for i in range(5)]
    assert 0 < _wait_for_hold(p) <= 0.5
    assert p.flush(0.1) is False  # still waiting for the server, nothing dropped
    assert p.dispatcher.queued == 5  # type: ignore[attr-defined]
    refused.close()
    with LoopbackServer(port=port) as server:
        assert p.flush(10)
        received = {r.envelope[0]["event_id"] for r in server.wait_for_requests(5)}
    assert received == {item.event_id for item in items}
    assert p.sent == 5
    assert p.core.stats()["lost"] == {}


def test_an_event_waits_through_a_server_restart() -> None:
    refused = refused_port()
    host, port = refused.getsockname()[:2]
    p = Pipeline(f"http://public@{host}:{port}/1", ThreadedHTTPTransport)
    started = time.monotonic()
    p.submit("during the restart")
    # Down for about 1.2 s: attempts at 0, 0.5 and 1.5 s; the third one finds the server back.
    restarted: list[LoopbackServer] = []
    restart = threading.Timer(1.2, lambda: restarted.append(LoopbackServer(port=port).start()))
    refused.close()  # nothing listens on the port until the restart
    restart.start()
    try:
        assert p.flush(10)
        assert p.sent == 1 and p.core.stats()["lost"] == {}
        assert len(restarted[0].events()) == 1
        assert time.monotonic() - started < 3.0
    finally:
        restart.join()
        for server in restarted:
            server.stop()
        p.close(0)
