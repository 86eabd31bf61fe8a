"""Reply/Failure -> Decision, as pure functions."""

from __future__ import annotations

from typing import Optional

import pytest

from raven._delivery.decisions import MAX_SNIPPET, decide_failure, decide_reply, server_message
from raven._delivery.model import (
    Dropped,
    EventItem,
    Failure,
    FailureKind,
    Reason,
    Reply,
    Request,
    RetryAsStore,
    Sent,
)

EVENT_ID = "ab" * 16
ITEM = EventItem(EVENT_ID, b"{}")


def _request(protocol: str = "envelope", item: Optional[EventItem] = ITEM) -> Request:
    return Request(f"https://host/api/1/{protocol}/", {}, b"x" * 100, item, protocol)


@pytest.mark.parametrize(
    ("status", "protocol", "expected_type", "reason"),
    [
        (200, "envelope", Sent, None),
        (202, "envelope", Sent, None),
        (200, "store", Sent, None),
        (429, "envelope", Dropped, Reason.RATELIMIT_BACKOFF),
        (429, "store", Dropped, Reason.RATELIMIT_BACKOFF),
        (413, "envelope", Dropped, Reason.SEND_ERROR),
        (404, "envelope", RetryAsStore, None),
        (404, "store", Dropped, Reason.SEND_ERROR),
        (400, "envelope", Dropped, Reason.SEND_ERROR),
        (401, "envelope", Dropped, Reason.SEND_ERROR),
        (403, "envelope", Dropped, Reason.SEND_ERROR),
        (500, "envelope", Dropped, Reason.SEND_ERROR),
        (502, "store", Dropped, Reason.SEND_ERROR),
        (503, "envelope", Dropped, Reason.SEND_ERROR),
        (301, "envelope", Dropped, Reason.SEND_ERROR),
        (100, "envelope", Dropped, Reason.SEND_ERROR),
    ],
)
def test_decide_reply(status: int, protocol: str, expected_type: type, reason: Optional[Reason]) -> None:
    decision = decide_reply(_request(protocol), Reply(status))
    assert type(decision) is expected_type
    assert decision.event_id == EVENT_ID
    if isinstance(decision, Dropped):
        assert decision.reason is reason
        assert decision.status == status
        assert decision.log and str(status) in decision.log
    if isinstance(decision, Sent):
        assert decision.log is None


def test_413_logs_only_when_asked() -> None:
    first = decide_reply(_request(), Reply(413), log_413=True)
    again = decide_reply(_request(), Reply(413), log_413=False)
    assert isinstance(first, Dropped) and isinstance(again, Dropped)
    assert first.log and "413" in first.log and "100 bytes" in first.log
    assert again.log is None
    assert again.reason is Reason.SEND_ERROR


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(500, {"x-sentry-error": "event too old"}, b"<html>ignored</html>"), "event too old"),
        (Reply(400, {}, b'{"detail":"invalid event_id"}'), "invalid event_id"),
        (Reply(400, {}, b'{"error":"nope"}'), '{"error":"nope"}'),
        (Reply(502, {}, b"<html>\r\n<b>Bad   gateway</b>\n</html>"), "<html> <b>Bad gateway</b> </html>"),
        (Reply(500, {}, b"\xff\xfe bad bytes \x00\x07"), "\ufffd\ufffd bad bytes"),
        (Reply(500, {"x-sentry-error": "  "}, b"fallback"), "fallback"),
        (Reply(500, {}, b""), ""),
        (Reply(500, {}, b"{not json"), "{not json"),
    ],
)
def test_server_message(reply: Reply, expected: str) -> None:
    assert server_message(reply) == expected


def test_server_message_is_bounded() -> None:
    for reply in (
        Reply(500, {}, b"y" * 1_000_000),
        Reply(500, {"x-sentry-error": "z" * 100_000}),
        Reply(500, {}, b'{"detail":"' + b"d" * 5000 + b'"}'),
    ):
        message = server_message(reply)
        assert len(message) <= MAX_SNIPPET
        assert message.endswith("...")


def test_500_log_names_status_and_server_error() -> None:
    decision = decide_reply(_request(), Reply(500, {"x-sentry-error": "database down"}))
    assert isinstance(decision, Dropped)
    assert "500" in (decision.log or "")
    assert "database down" in (decision.log or "")
    assert EVENT_ID in (decision.log or "")


@pytest.mark.parametrize("kind", list(FailureKind))
def test_decide_failure(kind: FailureKind) -> None:
    decision = decide_failure(_request(), Failure(kind, "connection refused\nby peer"))
    assert isinstance(decision, Dropped)
    assert decision.reason is Reason.NETWORK_ERROR
    assert decision.status is None
    assert decision.event_id == EVENT_ID
    assert decision.log is not None
    assert kind.value in decision.log
    assert "connection refused by peer" in decision.log
    assert "https://host/api/1/envelope/" in decision.log


def test_decide_failure_without_detail() -> None:
    decision = decide_failure(_request(), Failure(FailureKind.TIMEOUT))
    assert isinstance(decision, Dropped)
    assert decision.log is not None and decision.log.endswith("(timeout error)")


def test_report_only_requests() -> None:
    request = _request(item=None)
    assert decide_reply(request, Reply(200)) == Sent(None)
    dropped = decide_reply(request, Reply(500))
    assert isinstance(dropped, Dropped) and dropped.event_id is None
    assert "client report" in (dropped.log or "")
