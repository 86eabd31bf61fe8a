"""The delivery core driven as an adapter drives it, with an injected clock and scripted replies."""

from __future__ import annotations

import gzip
import json
from typing import Optional, cast

import pytest

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.envelope import parse_envelope
from raven._delivery.model import (
    Decision,
    Dropped,
    EventItem,
    Failure,
    FailureKind,
    Outcome,
    Reason,
    Reply,
    Request,
    RetryAsStore,
    RetryLater,
    Sent,
)
from raven.version import CLIENT_NAME

WALL = 1_795_255_200.0
T0 = 1000.0
REAL_SERVER_LIMITS = {"x-sentry-rate-limits": "86400:transaction;span:organization"}


def _core(protocol: str = "envelope") -> DeliveryCore:
    dsn = Dsn.parse("https://pub@sentry.example.com/prefix/42")
    return DeliveryCore(dsn, TransportOptions(protocol=protocol), CLIENT_NAME)


def _item(n: int = 0, category: str = "error") -> EventItem:
    return EventItem(f"{n:032x}", json.dumps({"event_id": f"{n:032x}", "n": n}).encode(), category)


def _send(
    core: DeliveryCore, outcome: Outcome, now: float = T0, item: Optional[EventItem] = None
) -> Optional[Decision]:
    """One event through admit/build/settle; returns the decision, or None if not admitted."""
    item = item or _item()
    if not core.admit(item, now):
        return None
    request = core.build_request(item, now, WALL)
    return core.settle(request, outcome, now, WALL)


def _lost(core: DeliveryCore) -> dict[str, int]:
    return dict(cast("dict[str, int]", core.stats()["lost"]))


def _report_of(request: Request) -> list:
    _, items = parse_envelope(gzip.decompress(request.body))
    reports = [json.loads(payload) for header, payload in items if header["type"] == "client_report"]
    return reports[0]["discarded_events"] if reports else []


def test_sent() -> None:
    core = _core()
    assert _send(core, Reply(200, REAL_SERVER_LIMITS)) == Sent(_item().event_id)
    assert core.stats()["sent"] == 1
    assert _lost(core) == {}


def test_real_server_header_on_every_200_never_stops_errors() -> None:
    core = _core()
    for n in range(50):
        assert isinstance(_send(core, Reply(200, REAL_SERVER_LIMITS), now=T0 + n, item=_item(n)), Sent)
    assert core.stats()["sent"] == 50
    assert not core.admit(_item(category="transaction"), T0 + 60)
    assert _lost(core) == {"ratelimit_backoff:transaction": 1}


def test_error_limit_stops_errors_for_its_seconds() -> None:
    core = _core()
    assert isinstance(_send(core, Reply(200, {"x-sentry-rate-limits": "60:error:organization"})), Sent)
    assert not core.admit(_item(1), T0)
    assert not core.admit(_item(2), T0 + 59.99)
    assert core.admit(_item(3), T0 + 60.0)
    assert _lost(core) == {"ratelimit_backoff:error": 2}
    assert core.stats()["rate_limited_until"] == {"error": T0 + 60}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, 60.0),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "7.5"}, 7.5),
        ({"retry-after": "Sat, 21 Nov 2026 10:02:00 GMT"}, 120.0),  # WALL + 120 s
        ({"retry-after": "whenever"}, 60.0),
        ({"x-sentry-rate-limits": "30::key"}, 30.0),
        ({"x-sentry-rate-limits": "30:error:key", "retry-after": "900"}, 30.0),
    ],
)
def test_429_drops_counts_and_pauses(headers: dict, seconds: float) -> None:
    core = _core()
    decision = _send(core, Reply(429, headers))
    assert isinstance(decision, Dropped)
    assert decision.reason is Reason.RATELIMIT_BACKOFF
    assert not core.admit(_item(1), T0 + seconds - 0.01)
    assert core.admit(_item(2), T0 + seconds)
    assert _lost(core) == {"ratelimit_backoff:error": 2}


def test_413_dropped_logged_once_never_retried() -> None:
    core = _core()
    first = _send(core, Reply(413), item=_item(1))
    second = _send(core, Reply(413), item=_item(2))
    assert isinstance(first, Dropped) and isinstance(second, Dropped)
    assert first.reason is second.reason is Reason.SEND_ERROR
    assert first.log and "413" in first.log
    assert second.log is None
    assert core.admit(_item(3), T0)  # no backoff either
    assert _lost(core) == {"send_error:error": 2}


def test_404_falls_back_to_store_for_good() -> None:
    core = _core()
    item = _item(1)
    assert core.admit(item, T0)
    request = core.build_request(item, T0, WALL)
    decision = core.settle(request, Reply(404), T0, WALL)
    assert isinstance(decision, RetryAsStore)
    assert decision.event_id == item.event_id and decision.log
    assert core.protocol == "store"
    assert _lost(core) == {}  # not lost: it is sent again

    retry = core.build_request(item, T0, WALL)
    assert retry.protocol == "store"
    assert retry.url == "https://sentry.example.com/prefix/api/42/store/"
    assert gzip.decompress(retry.body) == item.payload
    assert core.settle(retry, Reply(200), T0, WALL) == Sent(item.event_id)

    # later events go straight to /store/; a 404 there is final
    later = core.build_request(_item(2), T0, WALL)
    assert later.protocol == "store"
    final = core.settle(later, Reply(404), T0, WALL)
    assert isinstance(final, Dropped) and final.reason is Reason.SEND_ERROR and final.status == 404
    assert core.protocol == "store"
    assert core.stats()["sent"] == 1
    assert _lost(core) == {"send_error:error": 1}


def test_404_in_flight_envelopes_all_retry_once() -> None:
    core = _core()
    requests = [core.build_request(_item(n), T0, WALL) for n in range(3)]
    decisions = [core.settle(r, Reply(404), T0, WALL) for r in requests]
    assert all(isinstance(d, RetryAsStore) for d in decisions)


def test_configured_store_protocol() -> None:
    core = _core(protocol="store")
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.build_request(_item(), T0, WALL)
    assert request.protocol == "store" and request.report == {}
    assert core.report_request(T0, WALL) is None  # /store/ takes no reports
    decision = core.settle(request, Reply(404), T0, WALL)
    assert isinstance(decision, Dropped) and decision.reason is Reason.SEND_ERROR


def test_500_dropped_with_message() -> None:
    core = _core()
    decision = _send(core, Reply(500, {"x-sentry-error": "ingest unavailable"}, b"<html>"))
    assert isinstance(decision, Dropped)
    assert decision.reason is Reason.SEND_ERROR and decision.status == 500
    assert decision.log and "500" in decision.log and "ingest unavailable" in decision.log
    assert core.admit(_item(1), T0)  # 500 is not a rate limit
    assert _lost(core) == {"send_error:error": 1}


@pytest.mark.parametrize("kind", list(FailureKind))
def test_failures_count_network_error(kind: FailureKind) -> None:
    core = _core()
    decision = _send(core, Failure(kind, "boom"))
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert decision.log and kind.value in decision.log and "boom" in decision.log
    assert _lost(core) == {"network_error:error": 1}


def test_rate_limits_read_from_error_replies_too() -> None:
    core = _core()
    _send(core, Reply(500, {"x-sentry-rate-limits": "10:error:key"}))
    assert not core.admit(_item(1), T0 + 5)


# --- accounting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "key"),
    [
        (Reply(200), None),
        (Reply(429), "ratelimit_backoff:error"),
        (Reply(413), "send_error:error"),
        (Reply(400), "send_error:error"),
        (Reply(503), "send_error:error"),
        (Failure(FailureKind.TIMEOUT), "network_error:error"),
        (Failure(FailureKind.CONNECT), "network_error:error"),
    ],
)
def test_each_event_counted_exactly_once(outcome: Outcome, key: Optional[str]) -> None:
    core = _core()
    _send(core, outcome)
    lost = _lost(core)
    assert sum(lost.values()) + cast(int, core.stats()["sent"]) == 1
    assert lost == ({key: 1} if key else {})


def test_record_lost() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 5)
    core.record_lost(Reason.SAMPLE_RATE, "error")
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 0)  # nothing
    core.record_lost("before_send", "error")  # type: ignore[arg-type]  # tolerated at runtime
    assert _lost(core) == {"queue_overflow:error": 5, "sample_rate:error": 1, "before_send:error": 1}


def test_stats_shape() -> None:
    stats = _core().stats()
    assert stats == {"sent": 0, "lost": {}, "rate_limited_until": {}}


# --- client reports ----------------------------------------------------------------------------


def test_report_attached_once_and_confirmed_by_2xx() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 4)
    first = core.build_request(_item(1), T0, WALL)
    assert first.report == {("queue_overflow", "error"): 4}
    assert _report_of(first) == [{"reason": "queue_overflow", "category": "error", "quantity": 4}]
    second = core.build_request(_item(2), T0, WALL)
    assert second.report == {} and _report_of(second) == []  # never twice
    core.settle(first, Reply(200), T0, WALL)
    core.settle(second, Reply(200), T0, WALL)
    assert core.report_request(T0, WALL) is None
    assert _lost(core) == {"queue_overflow:error": 4}  # totals unchanged by reporting


@pytest.mark.parametrize(
    "outcome",
    [Failure(FailureKind.TIMEOUT), Reply(500), Reply(503), Reply(413), Reply(429), Reply(408)],
)
def test_failed_request_gives_its_report_back(outcome: Outcome) -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 4)
    request = core.build_request(_item(1), T0, WALL)
    decision = core.settle(request, outcome, T0, WALL)
    assert isinstance(decision, Dropped)
    # The failed event itself is counted too; both ride on the next envelope.
    later = T0 + 100_000  # past any rate limit the outcome set
    retry = core.build_request(_item(2), later, WALL)
    assert retry.report == {("queue_overflow", "error"): 4, (decision.reason.value, "error"): 1}


def test_404_gives_the_report_back() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 2)
    request = core.build_request(_item(1), T0, WALL)
    assert isinstance(core.settle(request, Reply(404), T0, WALL), RetryAsStore)
    # store mode cannot carry it; the counts stay pending and in stats
    assert core.build_request(_item(1), T0, WALL).report == {}
    assert _lost(core) == {"queue_overflow:error": 2}


@pytest.mark.parametrize("status", [400, 401, 403])
def test_report_refused_with_the_request_is_not_resent(status: int) -> None:
    # A report the server refused must not poison every later envelope.
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 2)
    request = core.build_request(_item(1), T0, WALL)
    core.settle(request, Reply(status), T0, WALL)
    assert core.build_request(_item(2), T0, WALL).report == {("send_error", "error"): 1}
    assert _lost(core) == {"queue_overflow:error": 2, "send_error:error": 1}


def test_rate_limited_drops_are_reported() -> None:
    core = _core()
    _send(core, Reply(429, {"retry-after": "10"}), item=_item(1))
    assert not core.admit(_item(2), T0 + 1)
    assert not core.admit(_item(3), T0 + 2)
    request = core.build_request(_item(4), T0 + 10, WALL)
    assert request.report == {("ratelimit_backoff", "error"): 3}


def test_no_report_while_internal_is_limited() -> None:
    core = _core()
    _send(core, Reply(200, {"x-sentry-rate-limits": "30:internal:key"}), item=_item(1))
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    assert core.build_request(_item(2), T0 + 10, WALL).report == {}
    assert core.report_request(T0 + 10, WALL) is None
    assert core.build_request(_item(3), T0 + 30, WALL).report == {("queue_overflow", "error"): 1}


def test_no_report_during_an_all_categories_limit() -> None:
    core = _core()
    _send(core, Reply(429, {"x-sentry-rate-limits": "30::key"}))
    assert core.report_request(T0 + 10, WALL) is None
    request = core.report_request(T0 + 30, WALL)
    assert request is not None and request.report == {("ratelimit_backoff", "error"): 1}


def test_report_request_outcomes() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 3)
    request = core.report_request(T0, WALL)
    assert request is not None and request.item is None

    failed = core.settle(request, Failure(FailureKind.CONNECT, "refused"), T0, WALL)
    assert isinstance(failed, Dropped) and failed.event_id is None
    assert _lost(core) == {"queue_overflow:error": 3}  # a report is not an event
    again = core.report_request(T0, WALL)
    assert again is not None and again.report == {("queue_overflow", "error"): 3}

    assert core.settle(again, Reply(200), T0, WALL) == Sent(None)
    assert core.stats()["sent"] == 0
    assert core.report_request(T0, WALL) is None


def test_report_request_404_switches_to_store_without_retry() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.report_request(T0, WALL)
    assert request is not None
    decision = core.settle(request, Reply(404), T0, WALL)
    assert isinstance(decision, Dropped) and decision.event_id is None
    assert core.protocol == "store"
    assert _lost(core) == {"queue_overflow:error": 1}


def test_report_request_429_pauses_and_keeps_counts() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.report_request(T0, WALL)
    assert request is not None
    core.settle(request, Reply(429), T0, WALL)
    assert core.report_request(T0 + 59, WALL) is None
    assert not core.admit(_item(), T0 + 59)
    later = core.report_request(T0 + 60, WALL)
    assert later is not None
    assert later.report == {("queue_overflow", "error"): 1, ("ratelimit_backoff", "error"): 1}


def test_outage_produces_one_report_not_one_request_per_loss() -> None:
    core = _core()
    for n in range(200):
        _send(core, Failure(FailureKind.CONNECT), item=_item(n))
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 1000)
    request = core.report_request(T0, WALL)
    assert request is not None
    assert sorted(map(tuple, (d.values() for d in _report_of(request)))) == [
        ("network_error", "error", 200),
        ("queue_overflow", "error", 1000),
    ]
    assert core.report_request(T0, WALL) is None


# -- an unreachable server: pause, keep the event, try again a few times


def _retry(core: DeliveryCore, item: EventItem, kind: FailureKind, now: float) -> Decision:
    request = core.build_request(item, now, WALL)
    return core.settle(request, Failure(kind, "refused"), now, WALL, can_retry=True)


def test_refused_connection_keeps_the_event_and_backs_off() -> None:
    core = _core()
    item = _item()
    delays = []
    for attempt in range(3):
        decision = _retry(core, item, FailureKind.CONNECT, T0)
        assert isinstance(decision, RetryLater) and decision.event_id == item.event_id
        delays.append(decision.delay)
        assert core.hold(T0) == decision.delay
        item = EventItem(item.event_id, item.payload, item.category, attempt + 1)
    assert delays == [0.5, 1.0, 2.0]
    assert _lost(core) == {}
    # The fourth failed attempt gives up on the event; the pause goes on growing, to a cap.
    decision = _retry(core, item, FailureKind.CONNECT, T0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert _lost(core) == {"network_error:error": 1}
    assert core.hold(T0) == 4.0
    for _ in range(5):
        _retry(core, _item(1), FailureKind.CONNECT, T0)
    assert core.hold(T0) == 8.0
    assert core.hold(T0 + 8.0) == 0.0


def test_any_reply_ends_the_pause() -> None:
    core = _core()
    _retry(core, _item(), FailureKind.CONNECT, T0)
    assert core.hold(T0) > 0
    assert isinstance(_send(core, Reply(500), now=T0 + 1), Dropped)
    assert core.hold(T0 + 1) == 0.0
    assert isinstance(_retry(core, _item(2), FailureKind.CONNECT, T0 + 2), RetryLater)
    assert core.hold(T0 + 2) == 0.5  # counting starts again


@pytest.mark.parametrize("kind", [FailureKind.TIMEOUT, FailureKind.READ, FailureKind.TLS, FailureKind.OTHER])
def test_only_refused_connections_are_retried(kind: FailureKind) -> None:
    core = _core()
    decision = _retry(core, _item(), kind, T0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert core.hold(T0) == 0.0


def test_without_a_queue_a_refused_connection_is_a_loss() -> None:
    core = _core()
    decision = _send(core, Failure(FailureKind.CONNECT, "refused"))
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert _lost(core) == {"network_error:error": 1}


def test_a_retried_event_gives_its_report_back() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.build_request(_item(), T0, WALL)
    assert request.report
    assert isinstance(
        core.settle(request, Failure(FailureKind.CONNECT), T0, WALL, can_retry=True), RetryLater
    )
    assert _lost(core) == {"queue_overflow:error": 1}
    assert core.build_request(_item(1), T0, WALL).report == request.report
