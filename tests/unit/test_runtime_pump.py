"""The loop transports' shared bookkeeping, driven by hand (no loop, no sockets).

A "task" here is the test itself: each ``start_task`` call is recorded, and the test plays that
task by calling ``take`` and ``finish`` as an adapter's send task would.
"""

from __future__ import annotations

import logging
from typing import Optional

import pytest

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.model import EventItem, Failure, FailureKind, Outcome, Reply, Request
from raven._runtime.pump import Pump


def make_pump(limit: int = 2, **options: object) -> Pump:
    dsn = Dsn.parse("http://key@127.0.0.1:9/1")
    opts = TransportOptions.parse(options, options.keys())
    pump = Pump(DeliveryCore(dsn, opts, "raven-ng/test"), opts, limit)
    pump.starts = 0  # type: ignore[attr-defined]

    def start() -> None:
        pump.starts += 1  # type: ignore[attr-defined]

    pump.start_task = start
    return pump


def starts(pump: Pump) -> int:
    return int(pump.starts)  # type: ignore[attr-defined]


def item(n: int) -> EventItem:
    return EventItem(f"{n:032x}", b'{"message":"x"}')


def run_task(pump: Pump, outcome: Outcome) -> list[Request]:
    """Play one send task to its end, every request answered with ``outcome``."""
    sent = []
    request = pump.take()
    while request is not None:
        sent.append(request)
        request = pump.finish(request, outcome)
    return sent


def test_one_task_until_the_server_answers_2xx_then_up_to_the_limit() -> None:
    pump = make_pump(limit=2)
    for n in range(5):
        pump.offer(item(n))
    assert starts(pump) == 1  # the server's state is unknown: one request at a time
    first = pump.take()
    assert first is not None and first.item is not None and first.item.event_id == item(0).event_id
    second = pump.finish(first, Reply(200))
    assert starts(pump) == 2  # it answered 2xx: one more task for the backlog
    third = pump.take()
    assert second is not None and third is not None
    sent = [first, second, third]
    for request in (second, third):
        nxt: Optional[Request] = pump.finish(request, Reply(200))
        while nxt is not None:
            sent.append(nxt)
            nxt = pump.finish(nxt, Reply(200))
    assert [r.item.event_id for r in sent if r.item] == [item(n).event_id for n in range(5)]
    assert pump.unsettled == 0 and pump.in_flight == 0
    assert pump.core.stats()["sent"] == 5


def test_a_failing_server_gets_one_request_at_a_time() -> None:
    pump = make_pump(limit=3)
    pump.offer(item(0))
    run_task(pump, Reply(200))
    for n in range(1, 7):
        pump.offer(item(n))
    assert starts(pump) == 4  # healthy: three tasks for the burst
    tasks = [pump.take() for _ in range(3)]
    assert all(t is not None for t in tasks)
    # The server starts failing: the tasks end one by one until one is left.
    assert pump.finish(tasks[0], Reply(503)) is None  # type: ignore[arg-type]
    assert pump.finish(tasks[1], Reply(503)) is None  # type: ignore[arg-type]
    nxt = pump.finish(tasks[2], Reply(503))  # type: ignore[arg-type]
    assert nxt is not None and pump.in_flight == 1
    assert len(run_task_from(pump, nxt, Reply(503))) == 3


def run_task_from(pump: Pump, request: Optional[Request], outcome: Outcome) -> list[Request]:
    sent = []
    while request is not None:
        sent.append(request)
        request = pump.finish(request, outcome)
    return sent


def test_overflow_and_close_are_counted_and_wake_waiters(caplog: pytest.LogCaptureFixture) -> None:
    pump = make_pump(limit=1, queue_size=2)
    for n in range(4):
        pump.offer(item(n))
    assert pump.core.stats()["lost"] == {"queue_overflow:error": 2}
    in_flight = pump.take()
    assert in_flight is not None
    woken = []
    pump.when_idle(lambda: woken.append(True))
    with caplog.at_level(logging.WARNING, logger="sentry.errors"):
        pump.close(3.0)
    # The queued event and the one in flight are counted before close returns, in one log line.
    assert pump.core.stats()["lost"] == {"queue_overflow:error": 2, "network_error:error": 2}
    assert woken == [True] and pump.unsettled == 0
    assert [r.getMessage() for r in caplog.records if "before close" in r.getMessage()] == [
        "Sentry: 2 event(s) could not be sent before close (waited 3.0 s); counted as network_error: 2"
    ]
    # Its reply comes after all: not counted again, and the task ends.
    assert pump.finish(in_flight, Reply(200)) is None
    assert pump.core.stats()["sent"] == 0 and pump.in_flight == 0


def test_envelope_404_is_retried_once_as_store() -> None:
    pump = make_pump(limit=1)
    pump.offer(item(1))
    request = pump.take()
    assert request is not None and request.protocol == "envelope"
    retry = pump.finish(request, Reply(404))
    assert retry is not None and retry.protocol == "store" and retry.url.endswith("/store/")
    assert pump.finish(retry, Reply(200)) is None
    assert pump.core.stats()["sent"] == 1 and pump.unsettled == 0


def test_rate_limit_reply_drops_queued_events_before_sending() -> None:
    pump = make_pump(limit=1)
    for n in range(3):
        pump.offer(item(n))
    request = pump.take()
    assert request is not None
    nxt = pump.finish(request, Reply(429, {"x-sentry-rate-limits": "60:error:organization"}))
    # Both queued events were dropped at dequeue; no report goes on its own before it is due.
    assert nxt is None
    assert pump.core.stats()["lost"] == {"ratelimit_backoff:error": 3}
    assert pump.unsettled == 0 and pump.in_flight == 0
    # A flush sends it; the event the 429 refused is not in it (the server counted that one).
    pump.kick()
    assert starts(pump) == 2
    report = pump.take()
    assert report is not None and report.item is None
    assert dict(report.report) == {("ratelimit_backoff", "error"): 2}
    assert pump.finish(report, Reply(200)) is None
    assert pump.unsettled == 0


@pytest.mark.parametrize("status", [413, 500, 503])
def test_a_refusing_server_gets_no_report_storm(status: int) -> None:
    pump = make_pump(limit=4)
    requests = []
    for n in range(50):
        pump.offer(item(n))
        assert starts(pump) == n + 1
        requests += run_task(pump, Reply(status))
    # One request per event; the losses ride along on the next events, no report alone.
    assert len(requests) == 50 and all(r.item is not None for r in requests)
    assert pump.core.stats()["lost"] == {"send_error:error": 50}
    # The flush at close sends one report; refused too, it is not sent again in a loop.
    pump.kick()
    assert starts(pump) == 51
    report = run_task(pump, Reply(status))
    assert len(report) == 1 and report[0].item is None
    pump.kick()
    assert starts(pump) == 51
    assert pump.unsettled == 0 and pump.in_flight == 0


def test_abandoned_request_is_counted_and_ends_the_task() -> None:
    pump = make_pump(limit=1)
    pump.offer(item(1))
    request = pump.take()
    assert request is not None
    pump.abandon(request)
    assert pump.in_flight == 0 and pump.unsettled == 0
    assert pump.core.stats()["lost"] == {"network_error:error": 1}


def test_refused_connection_pauses_and_resumes_with_the_event_kept() -> None:
    pump = make_pump(limit=2)
    pauses: list[float] = []
    pump.resume_later = pauses.append
    pump.offer(item(1))
    pump.offer(item(2))
    assert starts(pump) == 1
    first = pump.take()
    assert first is not None
    # The refusal ends the task and asks for one resume; the event waits at the head.
    assert pump.finish(first, Failure(FailureKind.CONNECT, "refused")) is None
    assert len(pauses) == 1 and 0.4 < pauses[0] <= 0.5
    pump.offer(item(3))
    assert starts(pump) == 1  # no task during the pause
    assert pump.in_flight == 0 and pump.unsettled == 3
    assert pump.core.stats()["lost"] == {}
    # The pause is over (the core's clock moved on) and the server is back.
    pump.core.backoff.answered()
    pump.resume()
    assert starts(pump) == 2
    delivered = [(r.item.event_id, r.item.attempts) for r in run_task(pump, Reply(200)) if r.item]
    assert delivered == [(item(1).event_id, 1), (item(2).event_id, 0), (item(3).event_id, 0)]
    assert pump.unsettled == 0 and pump.core.stats()["sent"] == 3


def test_without_resume_later_a_refused_connection_is_a_loss() -> None:
    pump = make_pump(limit=1)
    pump.offer(item(1))
    request = pump.take()
    assert request is not None
    assert pump.finish(request, Failure(FailureKind.CONNECT, "refused")) is None
    assert pump.core.stats()["lost"] == {"network_error:error": 1}
    assert pump.unsettled == 0


def test_queue_bound_is_count_or_bytes_and_an_empty_queue_takes_anything() -> None:
    options = TransportOptions(queue_size=3, queue_bytes=100)
    assert options.queue_has_room(0, 0, 10_000)  # alone in an empty queue, even above queue_bytes
    assert options.queue_has_room(2, 50, 50)
    assert not options.queue_has_room(2, 50, 51)  # bytes first
    assert not options.queue_has_room(3, 0, 1)  # count first


def test_a_flush_while_a_task_runs_gets_its_report_when_the_task_ends() -> None:
    pump = make_pump(limit=1)
    for n in range(3):
        pump.offer(item(n))
    request = pump.take()
    assert request is not None
    pump.kick()  # a flush while the first request is in flight: no second task ...
    assert starts(pump) == 1
    nxt = pump.finish(request, Reply(429, {"x-sentry-rate-limits": "60:error:key"}))
    # ... the running task drops the two queued events and sends the report the flush asked for.
    assert nxt is not None and nxt.item is None
    assert dict(nxt.report) == {("ratelimit_backoff", "error"): 2}
    assert pump.finish(nxt, Reply(200)) is None
    assert pump.unsettled == 0 and pump.in_flight == 0
