"""Rate-limited diagnostics: an outage must not flood the application's logs.

Messages go to the ``sentry.errors`` logger, the one raven 6.10 used for delivery errors (users'
logging configurations, including the one in raven's documentation, route or silence it).

Per key, the first message is logged at once; after that at most one per ``interval`` (60 s),
carrying the number of repeats suppressed since the last one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any, Callable, Optional

from raven._delivery.model import Decision, Dropped, Kept, Reason, RetryAsStore, RetryLater

#: The logger of delivery diagnostics (raven 6.10's name).
LOGGER_NAME = "sentry.errors"

#: Keys remembered; beyond this the table is cleared (keys are few in practice: kinds of failure).
_MAX_KEYS = 512


class RateLimitedLog:
    """Logs the first message of each key at once, then at most one per ``interval`` seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [time of the last message logged, repeats suppressed since]
        self._seen: dict[str, list[float]] = {}

    def log(self, key: str, level: int, message: str, *args: Any, exc_info: Any = None) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago. True if logged."""
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            suppressed = int(entry[1]) if entry is not None else 0
            if len(self._seen) >= _MAX_KEYS and entry is None:
                self._seen.clear()
            self._seen[key] = [now, 0]
        try:
            if suppressed:
                message += " [%d similar message(s) suppressed in the last %.0f s]"
                args = (*args, suppressed, self.interval)
            self.logger.log(level, message, *args, exc_info=exc_info)
        except Exception:
            pass  # a broken handler must not break delivery
        return True

    def error(self, key: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        return self.log(key, logging.ERROR, message, *args, exc_info=exc_info)

    def warning(self, key: str, message: str, *args: Any) -> bool:
        return self.log(key, logging.WARNING, message, *args)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it while the parent forked


#: The process-wide rate-limited delivery log.
errors = RateLimitedLog(logging.getLogger(LOGGER_NAME))


def log_rate_limited(category: str) -> None:
    """An event dropped before sending because the server rate-limits its category."""
    errors.warning(
        f"ratelimited:{category}",
        "Sentry: rate limited; %s events are dropped until the limit expires",
        category,
    )


def log_queue_overflow(queue_size: int, queue_bytes: int) -> None:
    """An event dropped because the queue is full (or closed)."""
    errors.warning(
        "queue_overflow",
        "Sentry: the event queue is full (%d events or %d bytes) or closed; event dropped",
        queue_size,
        queue_bytes,
    )


def log_lost_at_close(reasons: Iterable[Optional[Reason]], waited: float, when: str = "close") -> None:
    """Events a close (or the exit) gave up on, counted under ``reasons``: one line with counts.
    (None: an event the spool keeps for the next start, not lost.)"""
    counts: dict[str, int] = {}
    kept = 0
    for reason in reasons:
        if reason is None:
            kept += 1
        else:
            counts[reason.value] = counts.get(reason.value, 0) + 1
    if kept:
        errors.warning(
            f"kept_at_{when}",
            "Sentry: %d event(s) could not be sent before %s (waited %.1f s); they stay in the spool",
            kept,
            when,
            waited,
        )
    if not counts:
        return
    errors.warning(
        f"lost_at_{when}",
        "Sentry: %d event(s) could not be sent before %s (waited %.1f s); counted as %s",
        sum(counts.values()),
        when,
        waited,
        ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())),
    )


def decision_key(decision: Decision) -> str:
    """Rate-limiting key of a decision's message: its kind, reason and status, not the event id."""
    if isinstance(decision, Dropped):
        return f"dropped:{decision.reason.value}:{decision.status}"
    return type(decision).__name__


def log_decision(decision: Decision, log: Optional[RateLimitedLog] = None) -> None:
    """Log ``decision.log``, if any, through the rate-limited log.

    Lost events are errors, except rate limiting (the server asked for it): a warning. A switch to
    the store endpoint and a retry after a failed connection are warnings.
    """
    message = decision.log
    if not message:
        return
    target = log if log is not None else errors
    if isinstance(decision, Dropped) and decision.reason is not Reason.RATELIMIT_BACKOFF:
        level = logging.ERROR
    elif isinstance(decision, (Dropped, RetryAsStore, RetryLater, Kept)):
        level = logging.WARNING
    else:
        level = logging.INFO
    # The message is data, not a format string.
    target.log(decision_key(decision), level, "%s", message)


def reset() -> None:
    """Forget every key (tests)."""
    errors.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=errors._after_fork)
