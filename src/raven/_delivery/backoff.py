"""When to try the server again after it gave no HTTP answer. No I/O, no clock.

A request that got no HTTP answer at all (the connection could not be made, the name did not
resolve, the TLS handshake failed, the server did not answer in time, or its answer broke or was
not HTTP) says the server cannot take events now. (A failure of another kind, such as a user's
transport raising an arbitrary exception, says nothing about the server.) After any of them
every sender pauses for
:meth:`ConnectBackoff.hold`: 0.5 s after the first failure, doubling up to :data:`MAX_DELAY`. Any
HTTP reply, whatever its status, ends the pause (a server that answers 500 is reachable: each
event gets its one request, as Sentry's rules say). Sending into a server that does not answer
only adds load to it and costs each event a timeout; events that wait in the queue meanwhile are
delivered when it answers again.

One failure is one piece of evidence however many requests meet it: requests already in flight
when the pause starts (several sender threads, several loop tasks) fail inside that pause, and do
not double it again. The pause grows only when a request sent after it fails too.

Which events are tried again (:func:`retryable`): a refused connection, an unresolved name or a
failed TLS handshake means nothing reached the server, so the event waits at the head of the
queue and is tried up to :data:`CONNECT_ATTEMPTS` times (about 30 s of outage) before it counts as
lost (``network_error``). An event that timed out or whose answer broke is not tried again (the
server may have stored it).
"""

from __future__ import annotations

from raven._delivery.model import FailureKind

#: The first pause after a failure; it doubles with each further failure.
FIRST_DELAY = 0.5
#: The longest pause between two attempts.
MAX_DELAY = 8.0
#: How many times one event is tried while the connection keeps failing (pauses of 0.5, 1, 2,
#: 4, 8, 8 and 8 s between the attempts: an outage of about 30 s costs no event).
CONNECT_ATTEMPTS = 8

#: Failures that say the server cannot be reached now: every sender pauses.
PAUSING = frozenset({FailureKind.CONNECT, FailureKind.TLS, FailureKind.TIMEOUT, FailureKind.READ})
#: Failures after which nothing reached the server: the event may be tried again.
NOTHING_SENT = frozenset({FailureKind.CONNECT, FailureKind.TLS})


class ConnectBackoff:
    """The pause before the next attempt, from consecutive failures to reach the server."""

    def __init__(self) -> None:
        self._failures = 0  # consecutive pauses started
        self._until = 0.0

    def failed(self, kind: FailureKind, now: float) -> float:
        """Record a request that got no HTTP answer; the pause in force after it.

        A failure inside a running pause came from a request sent before the pause began: the
        same evidence, so the pause is not extended.
        """
        if kind not in PAUSING:
            return 0.0
        if now < self._until:
            return self._until - now
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
    return kind in NOTHING_SENT and attempts < CONNECT_ATTEMPTS
