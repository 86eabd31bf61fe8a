"""When to try the server again after it could not be reached. No I/O, no clock.

A connection that cannot be made (refused, no route, DNS failure) means nothing reached the
server, so the event can safely wait and be tried again: a Sentry server restarting for a few
seconds must not cost the events captured meanwhile. The transports that queue (the threaded
worker) keep the event at the head of their queue and pause every sender for :meth:`hold`:
0.5 s after the first failure, doubling up to :data:`MAX_DELAY`. Any HTTP reply, whatever its
status, ends the pause.

An event is tried at most :data:`CONNECT_ATTEMPTS` times (about 7 s of outage), then counted as
lost (``network_error``) and the next one gets its turn; meanwhile new events wait in the bounded
queue, and overflow it during a long outage (counted ``queue_overflow``). Timeouts and broken
replies are neither paused for (each attempt already waits its ``timeout``) nor retried (the
server may have stored the event already).
"""

from __future__ import annotations

from raven._delivery.model import FailureKind

#: The first pause after a failed connection; it doubles with each further failure.
FIRST_DELAY = 0.5
#: The longest pause between two attempts.
MAX_DELAY = 8.0
#: How many times one event is tried when the connection keeps failing.
CONNECT_ATTEMPTS = 4


class ConnectBackoff:
    """The pause before the next connection attempt, from consecutive connection failures."""

    def __init__(self) -> None:
        self._failures = 0
        self._until = 0.0

    def failed(self, kind: FailureKind, now: float) -> float:
        """Record a failure; the pause it starts (0 for a failure that is not a refused connection).

        A timeout already costs its sender the whole ``timeout``: no pause on top of it.
        """
        if kind is not FailureKind.CONNECT:
            return 0.0
        delay = min(MAX_DELAY, FIRST_DELAY * 2**self._failures)
        self._failures = min(self._failures + 1, 16)
        self._until = now + delay
        return delay

    def answered(self) -> None:
        """The server replied (any status): no pause."""
        self._failures = 0
        self._until = 0.0

    def hold(self, now: float) -> float:
        """Seconds to wait before the next attempt (0: go ahead)."""
        return max(0.0, self._until - now)


def retryable(kind: FailureKind, attempts: int) -> bool:
    """True if an event whose ``attempts``-th try failed this way should be tried again."""
    return kind is FailureKind.CONNECT and attempts < CONNECT_ATTEMPTS
