"""The delivery core driven as an adapter drives it, with an injected clock and scripted replies."""

from __future__ import annotations

import gzip
import json
from typing import Optional, cast

import pytest

from raven._delivery.backoff import CONNECT_ATTEMPTS
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
    # The failed event itself is counted too, and both ride on the next envelope; except the event
    # a 429 refused, which the server counted itself (Sentry's client-report rules).
    later = T0 + 100_000  # past any rate limit the outcome set
    retry = core.build_request(_item(2), later, WALL)
    expected = {("queue_overflow", "error"): 4}
    if decision.status != 429:
        expected[(decision.reason.value, "error")] = 1
    assert retry.report == expected
    assert _lost(core) == {"queue_overflow:error": 4, f"{decision.reason.value}:error": 1}


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


def test_rate_limited_drops_are_reported_but_not_the_event_the_429_refused() -> None:
    core = _core()
    _send(core, Reply(429, {"retry-after": "10"}), item=_item(1))
    assert not core.admit(_item(2), T0 + 1)
    assert not core.admit(_item(3), T0 + 2)
    request = core.build_request(_item(4), T0 + 10, WALL)
    assert request.report == {("ratelimit_backoff", "error"): 2}
    assert _lost(core) == {"ratelimit_backoff:error": 3}  # the stats know all three


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
    assert not core.admit(_item(1), T0 + 1)
    assert core.report_request(T0 + 10, WALL, forced=True) is None
    request = core.report_request(T0 + 30, WALL, forced=True)
    assert request is not None and request.report == {("ratelimit_backoff", "error"): 1}


def test_report_request_outcomes() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 3)
    request = core.report_request(T0, WALL, forced=True)
    assert request is not None and request.item is None

    failed = core.settle(request, Failure(FailureKind.CONNECT, "refused"), T0, WALL)
    assert isinstance(failed, Dropped) and failed.event_id is None
    assert _lost(core) == {"queue_overflow:error": 3}  # a report is not an event
    # A failed report is kept, and no report goes alone for an interval, flush or not.
    assert core.report_request(T0 + 59, WALL, forced=True) is None
    again = core.report_request(T0 + 60, WALL, forced=True)
    assert again is not None and again.report == {("queue_overflow", "error"): 3}

    assert core.settle(again, Reply(200), T0 + 60, WALL) == Sent(None)
    assert core.stats()["sent"] == 0
    assert core.report_request(T0 + 60, WALL, forced=True) is None


def test_report_request_404_switches_to_store_without_retry() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.report_request(T0, WALL, forced=True)
    assert request is not None
    decision = core.settle(request, Reply(404), T0, WALL)
    assert isinstance(decision, Dropped) and decision.event_id is None
    assert core.protocol == "store"
    assert _lost(core) == {"queue_overflow:error": 1}


def test_report_request_429_pauses_and_keeps_counts() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    request = core.report_request(T0, WALL, forced=True)
    assert request is not None
    core.settle(request, Reply(429), T0, WALL)
    assert core.report_request(T0 + 59, WALL, forced=True) is None
    assert not core.admit(_item(), T0 + 59)
    later = core.report_request(T0 + 60, WALL, forced=True)
    assert later is not None
    assert later.report == {("queue_overflow", "error"): 1, ("ratelimit_backoff", "error"): 1}


def test_outage_produces_one_report_not_one_request_per_loss() -> None:
    core = _core()
    for n in range(200):
        _send(core, Failure(FailureKind.CONNECT), item=_item(n))
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 1000)
    request = core.report_request(T0, WALL, forced=True)
    assert request is not None
    assert sorted(map(tuple, (d.values() for d in _report_of(request)))) == [
        ("network_error", "error", 200),
        ("queue_overflow", "error", 1000),
    ]
    assert core.report_request(T0, WALL, forced=True) is None


def test_a_lone_report_goes_at_most_once_per_interval() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    assert core.report_request(T0, WALL) is None  # the first interval starts now
    assert core.report_request(T0 + 59, WALL) is None
    first = core.report_request(T0 + 60, WALL)
    assert first is not None
    core.settle(first, Reply(200), T0 + 60, WALL)
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    assert core.report_request(T0 + 61, WALL) is None
    assert core.report_request(T0 + 61, WALL, forced=True) is not None  # a flush or close asks


def test_a_report_riding_on_an_envelope_restarts_the_interval() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    assert core.report_request(T0, WALL) is None
    assert core.build_request(_item(), T0 + 50, WALL).report  # the report rode along
    core.record_lost(Reason.QUEUE_OVERFLOW, "error")
    assert core.report_request(T0 + 100, WALL) is None
    assert core.report_request(T0 + 110, WALL) is not None


@pytest.mark.parametrize(
    "refusal", [Reply(500), Reply(503), Reply(413), Reply(400), Failure(FailureKind.READ)]
)
def test_a_server_refusing_reports_gets_one_report_request_per_interval(refusal: Outcome) -> None:
    core = _core()
    sent_alone = 0
    for second in range(0, 600):  # ten minutes; an event lost every second, flushes every second
        now = T0 + second
        _send(core, Reply(500), now=now, item=_item(second))
        for forced in (False, True):
            request = core.report_request(now, WALL, forced=forced)
            if request is not None:
                sent_alone += 1
                core.settle(request, refusal, now, WALL)
    assert sent_alone == 10
    assert _lost(core) == {"send_error:error": 600}


def test_the_event_refused_with_429_counts_in_stats_not_in_reports() -> None:
    core = _core()
    _send(core, Reply(429, {"x-sentry-rate-limits": "60:error:key"}))
    assert core.report_request(T0 + 1, WALL, forced=True) is None  # nothing to report
    assert _lost(core) == {"ratelimit_backoff:error": 1}


# -- how many requests at once


def test_width_is_one_until_the_server_answers_2xx() -> None:
    core = _core()
    assert core.width(4) == 1
    _send(core, Reply(200))
    assert core.width(4) == 4
    _send(core, Reply(500))
    assert core.width(4) == 1
    _send(core, Reply(200))
    _send(core, Failure(FailureKind.TIMEOUT), now=T0 + 10)
    assert core.width(4) == 1
    _send(core, Reply(202), now=T0 + 20)
    assert core.width(4) == 4
    _send(core, Reply(429), now=T0 + 30)
    assert core.width(4) == 1


# -- close


def test_lost_at_close_reasons() -> None:
    core = _core()
    assert core.lost_at_close(_item(1), T0) is Reason.NETWORK_ERROR
    _send(core, Reply(200, {"x-sentry-rate-limits": "60:error:key"}))
    assert core.lost_at_close(_item(2), T0 + 1) is Reason.RATELIMIT_BACKOFF
    assert core.lost_at_close(_item(3, category="transaction"), T0 + 1) is Reason.NETWORK_ERROR
    assert _lost(core) == {
        "network_error:error": 1,
        "ratelimit_backoff:error": 1,
        "network_error:transaction": 1,
    }


@pytest.mark.parametrize("outcome", [Reply(200), Reply(500), Reply(404), Failure(FailureKind.CONNECT)])
def test_settle_without_accounting_updates_state_only(outcome: Outcome) -> None:
    core = _core()
    item = _item()
    core.lost_at_close(item, T0)
    request = core.build_request(item, T0, WALL)
    decision = core.settle(request, outcome, T0, WALL, can_retry=True, account=False)
    assert not isinstance(decision, (RetryLater, RetryAsStore))  # the adapter must not send it again
    assert core.stats()["sent"] == 0
    assert _lost(core) == {"network_error:error": 1}
    assert core.width(4) == (4 if outcome == Reply(200) else 1)


# -- an unreachable server: pause, keep the event, try again a few times


def _retry(core: DeliveryCore, item: EventItem, kind: FailureKind, now: float) -> Decision:
    request = core.build_request(item, now, WALL)
    return core.settle(request, Failure(kind, "refused"), now, WALL, can_retry=True)


@pytest.mark.parametrize("kind", [FailureKind.CONNECT, FailureKind.TLS])
def test_unreachable_server_keeps_the_event_and_backs_off(kind: FailureKind) -> None:
    core = _core()
    item = _item()
    delays = []
    now = T0
    for attempt in range(CONNECT_ATTEMPTS - 1):
        decision = _retry(core, item, kind, now)
        assert isinstance(decision, RetryLater) and decision.event_id == item.event_id
        delays.append(decision.delay)
        assert core.hold(now) == decision.delay
        now += decision.delay  # the next attempt, once the pause is over
        item = item.retried()
        assert item.attempts == attempt + 1
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert sum(delays) > 30  # an outage of 30 s costs no event
    assert _lost(core) == {}
    # The last attempt gives up on the event; the pause stays at its cap.
    decision = _retry(core, item, kind, now)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert _lost(core) == {"network_error:error": 1}
    assert core.hold(now) == 8.0
    assert core.hold(now + 8.0) == 0.0


def test_failures_inside_a_pause_are_one_piece_of_evidence() -> None:
    core = _core()
    # Four requests in flight when the server went away: the first failure starts the pause ...
    assert isinstance(_retry(core, _item(1), FailureKind.CONNECT, T0), RetryLater)
    for n in (2, 3, 4):
        decision = _retry(core, _item(n), FailureKind.CONNECT, T0 + 0.01 * n)
        assert isinstance(decision, RetryLater)
    # ... and the others, failing inside it, do not double it.
    assert core.hold(T0) == 0.5
    # A request sent after the pause that fails again doubles it.
    _retry(core, _item(5), FailureKind.CONNECT, T0 + 0.5)
    assert core.hold(T0 + 0.5) == 1.0


def test_a_timeout_pauses_but_the_event_is_not_tried_again() -> None:
    core = _core()
    decision = _retry(core, _item(), FailureKind.TIMEOUT, T0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert core.hold(T0) == 0.5  # the server does not answer: do not pile more requests on it


def test_an_adapter_that_cannot_wait_drops_during_the_pause() -> None:
    core = _core()
    _send(core, Failure(FailureKind.CONNECT, "refused"))
    assert core.turn_away(_item(1), T0 + 0.1, can_wait=False) is Reason.NETWORK_ERROR
    assert core.turn_away(_item(2), T0 + 0.1) is None  # a queue waits instead
    assert core.turn_away(_item(3), T0 + 0.5, can_wait=False) is None  # the pause is over
    assert _lost(core) == {"network_error:error": 2}


def test_any_reply_ends_the_pause() -> None:
    core = _core()
    _retry(core, _item(), FailureKind.CONNECT, T0)
    assert core.hold(T0) > 0
    assert isinstance(_send(core, Reply(500), now=T0 + 1), Dropped)
    assert core.hold(T0 + 1) == 0.0
    assert isinstance(_retry(core, _item(2), FailureKind.CONNECT, T0 + 2), RetryLater)
    assert core.hold(T0 + 2) == 0.5  # counting starts again


def test_a_reply_that_broke_pauses_but_is_not_retried() -> None:
    core = _core()
    decision = _retry(core, _item(), FailureKind.READ, T0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert core.hold(T0) == 0.5


def test_a_failure_that_says_nothing_about_the_server_does_not_pause() -> None:
    core = _core()  # e.g. a user's transport raising an arbitrary exception
    decision = _retry(core, _item(), FailureKind.OTHER, T0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert core.hold(T0) == 0.0


@pytest.mark.parametrize("status", [200, 413, 429, 500, 503])
def test_any_http_answer_means_no_pause(status: int) -> None:
    core = _core()
    _send(core, Reply(status), now=T0)
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
