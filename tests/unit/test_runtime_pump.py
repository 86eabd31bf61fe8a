"""The loop transports' shared bookkeeping, driven by hand (no loop, no sockets)."""

from __future__ import annotations

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.model import EventItem, Failure, FailureKind, Reply
from raven._runtime.pump import Pump


def make_pump(limit: int = 2, **options: object) -> Pump:
    dsn = Dsn.parse("http://key@127.0.0.1:9/1")
    opts = TransportOptions.parse(options, options.keys())
    return Pump(DeliveryCore(dsn, opts, "raven-ng/test"), opts, limit)


def item(n: int) -> EventItem:
    return EventItem(f"{n:032x}", b'{"message":"x"}')


def test_starts_at_most_limit_tasks_and_drains_in_order() -> None:
    pump = make_pump(limit=2)
    started = [pump.offer(item(n)) for n in range(5)]
    assert started == [True, True, False, False, False]
    sent = []
    first, second = pump.take(), pump.take()
    assert first is not None and second is not None
    request = first
    while request is not None:
        assert request.item is not None
        sent.append(request.item.event_id)
        request = pump.finish(request, Reply(200))
    assert pump.finish(second, Reply(200)) is None
    assert len(sent) == 4 and pump.unsettled == 0 and pump.in_flight == 0
    assert pump.core.stats()["sent"] == 5


def test_overflow_and_close_are_counted_and_wake_waiters() -> None:
    pump = make_pump(limit=1, queue_size=2)
    for n in range(4):
        pump.offer(item(n))
    assert pump.core.stats()["lost"] == {"queue_overflow:error": 2}
    woken = []
    pump.when_idle(lambda: woken.append(True))
    pump.close()
    assert pump.core.stats()["lost"] == {"queue_overflow:error": 4}
    assert woken == [True] and pump.unsettled == 0


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
    # Both queued events were dropped at dequeue; what the task sends next is the client report.
    assert nxt is not None and nxt.item is None
    assert dict(nxt.report) == {("ratelimit_backoff", "error"): 3}
    assert pump.finish(nxt, Reply(200)) is None
    assert pump.core.stats()["lost"] == {"ratelimit_backoff:error": 3}
    assert pump.unsettled == 0 and pump.in_flight == 0


def test_abandoned_request_is_counted_and_ends_the_task() -> None:
    pump = make_pump(limit=1)
    pump.offer(item(1))
    request = pump.take()
    assert request is not None
    pump.abandon(request)
    assert pump.in_flight == 0 and pump.unsettled == 0
    assert pump.core.stats()["lost"] == {"network_error:error": 1}
    assert FailureKind.OTHER.value == "other" and isinstance(Failure(FailureKind.OTHER), Failure)


def test_refused_connection_pauses_and_resumes_with_the_event_kept() -> None:
    pump = make_pump(limit=2)
    pauses: list[float] = []
    pump.resume_later = pauses.append
    assert pump.offer(item(1)) and pump.offer(item(2))
    first, second = pump.take(), pump.take()
    assert first is not None and second is not None
    # The first refusal ends that task and asks for one resume; the event waits at the head.
    assert pump.finish(first, Failure(FailureKind.CONNECT, "refused")) is None
    assert len(pauses) == 1 and 0.4 < pauses[0] <= 0.5
    assert pump.finish(second, Failure(FailureKind.CONNECT, "refused")) is None
    assert len(pauses) == 1  # one resume pending at a time
    assert pump.in_flight == 0 and pump.unsettled == 2
    assert pump.core.stats()["lost"] == {}
    # The pause is over (the core's clock moved on) and the server is back.
    pump.core.backoff.answered()
    assert pump.resume() is True
    request = pump.take()
    delivered = []
    while request is not None:
        assert request.item is not None
        delivered.append((request.item.event_id, request.item.attempts))
        request = pump.finish(request, Reply(200))
    assert delivered == [(item(2).event_id, 1), (item(1).event_id, 1)]
    assert pump.unsettled == 0 and pump.core.stats()["sent"] == 2


def test_without_resume_later_a_refused_connection_is_a_loss() -> None:
    pump = make_pump(limit=1)
    assert pump.offer(item(1))
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
