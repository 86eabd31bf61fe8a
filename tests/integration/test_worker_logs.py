"""The rate-limited diagnostics log (no sockets: an injected clock)."""

from __future__ import annotations

import logging

import pytest

from raven._delivery.model import Dropped, Reason, RetryAsStore, Sent
from raven._runtime.logs import LOGGER_NAME, RateLimitedLog, decision_key, log_decision


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_immediately_then_one_per_interval_with_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="test.rl")
    clock = Clock()
    log = RateLimitedLog(logging.getLogger("test.rl"), interval=60, clock=clock)
    assert log.error("k", "down: %s", "a")
    for _ in range(5):
        clock.now += 1
        assert not log.error("k", "down: %s", "b")
    assert log.error("other", "different key")
    clock.now += 60
    assert log.error("k", "down: %s", "c")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "down: a",
        "different key",
        "down: c [5 similar message(s) suppressed in the last 60 s]",
    ]


def test_broken_handler_does_not_raise() -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("broken")

        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
            raise RuntimeError("really broken")

    logger = logging.getLogger("test.rl.broken")
    logger.addHandler(Broken())
    logger.propagate = False
    try:
        RateLimitedLog(logger).error("k", "x")
    finally:
        logger.handlers.clear()
        logger.propagate = True


def test_decisions_are_logged_by_kind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    log = RateLimitedLog(logging.getLogger(LOGGER_NAME), clock=Clock())
    log_decision(Dropped("a", Reason.NETWORK_ERROR, "net down 100% %s"), log)
    log_decision(Dropped("b", Reason.NETWORK_ERROR, "net down again"), log)  # same key: suppressed
    log_decision(Dropped("c", Reason.RATELIMIT_BACKOFF, "limited", 429), log)
    log_decision(RetryAsStore("d", "switching"), log)
    log_decision(Sent("e"), log)  # nothing to log
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "net down 100% %s"),
        (logging.WARNING, "limited"),
        (logging.WARNING, "switching"),
    ]
    assert decision_key(Dropped("x", Reason.SEND_ERROR, None, 500)) != decision_key(
        Dropped("x", Reason.SEND_ERROR, None, 413)
    )
