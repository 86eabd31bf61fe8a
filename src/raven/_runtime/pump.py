"""Delivery bookkeeping for the transports whose sends are tasks on an event loop.

gevent, eventlet, tornado, twisted and asyncio each start send tasks in their own idiom, but the
rules are the same and live here once: a queue bounded by count and bytes (overflow drops the
new event, counted ``queue_overflow``), at most ``limit`` sends in flight, the rate-limit check
again when an event leaves the queue, one retry to ``/store/`` when the core says so, the pending
client report when the queue runs dry (or, with nothing to send, when ``flush`` asks: :meth:`Pump.kick`),
a pause with the event kept after a refused connection (when the adapter sets
:attr:`Pump.resume_later`), and a count of unsettled events for ``flush``.

A :class:`Pump` does no I/O and starts nothing. It is not thread-safe: call it from the loop's
thread only (adapters hop onto the loop first when a capture comes from another thread). An
adapter's send task is, in its own idiom::

    request = pump.take()
    while request is not None:
        outcome = <await the POST of request>     # Reply or Failure, never raises
        request = pump.finish(request, outcome)   # a retry, the next request, or None: task ends
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import TransportOptions
from raven._delivery.model import (
    EventItem,
    Failure,
    FailureKind,
    Outcome,
    Reason,
    Request,
    RetryAsStore,
    RetryLater,
)
from raven._runtime.logs import log_decision, log_queue_overflow, log_rate_limited


class Pump:
    """Queue and in-flight accounting of one client on an event loop."""

    def __init__(self, core: DeliveryCore, options: TransportOptions, limit: int) -> None:
        self.core = core
        self.options = options
        self.limit = max(1, limit)
        self._queue: deque[EventItem] = deque()
        self._queued_bytes = 0
        self._in_flight = 0  # send tasks running
        self._unsettled = 0  # events offered and reports started, not yet sent or counted lost
        self._last_failed = False
        self._closed = False
        self._on_idle: list[Callable[[], None]] = []
        #: Set by an adapter that can wait: ``resume_later(delay)`` calls :meth:`resume` after
        #: ``delay`` seconds on the loop, and starts a send task if it says so. With it, events
        #: that meet a refused connection wait in the queue (``raven._delivery.backoff``).
        self.resume_later: Optional[Callable[[float], None]] = None
        self._resume_pending = False
        self._kicked: Optional[Request] = None  # a report flush asked for, until its task takes it

    @property
    def unsettled(self) -> int:
        return self._unsettled

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def offer(self, item: EventItem) -> bool:
        """Queue ``item`` (or count it lost). True when the adapter should start a send task."""
        core = self.core
        if not core.admit(item, time.monotonic()):
            log_rate_limited(item.category)
            return False
        options = self.options
        size = len(item.payload)
        if self._closed or not options.queue_has_room(len(self._queue), self._queued_bytes, size):
            core.record_lost(Reason.QUEUE_OVERFLOW, item.category)
            log_queue_overflow(options.queue_size, options.queue_bytes)
            return False
        self._queue.append(item)
        self._queued_bytes += size
        self._unsettled += 1
        if self._in_flight < self.limit:
            self._in_flight += 1
            return True
        return False

    def kick(self) -> bool:
        """``flush`` asks: with no send task running, send the pending client report on its own
        (after drops that no later event carries, e.g. during a rate limit). True when the adapter
        should start a send task for it."""
        if self._in_flight or self._closed or self._last_failed:
            return False
        report = self.core.report_request(time.monotonic(), time.time())
        if report is None:
            return False
        self._kicked = report
        self._in_flight += 1
        self._unsettled += 1
        return True

    def take(self) -> Optional[Request]:
        """The next request for a send task; None means the task ends (it is no longer counted)."""
        request = self._next()
        self._notify_idle()  # only now: a report started by this call still counts as unsettled
        return request

    def _next(self) -> Optional[Request]:
        core = self.core
        if self._kicked is not None:
            request, self._kicked = self._kicked, None
            return request
        if self._queue and self.resume_later is not None and not self._closed:
            pause = core.hold(time.monotonic())
            if pause > 0:  # the server could not be reached: this task ends, one resumes later
                self._in_flight -= 1
                if not self._resume_pending:
                    self._resume_pending = True
                    self.resume_later(pause)
                return None
        while self._queue:
            item = self._queue.popleft()
            self._queued_bytes -= len(item.payload)
            if core.admit(item, time.monotonic()):  # a limit may have started while it waited
                return core.build_request(item, time.monotonic(), time.time())
            self._unsettled -= 1
        self._in_flight -= 1
        if self._in_flight == 0 and not self._last_failed and not self._closed:
            report = core.report_request(time.monotonic(), time.time())
            if report is not None:
                # Counted like an event, so that a flush returns once the report is out too.
                self._in_flight += 1
                self._unsettled += 1
                return report
        return None

    def finish(self, request: Request, outcome: Outcome) -> Optional[Request]:
        """Settle ``request``; return what the same task sends next (a retry or the next request)."""
        core = self.core
        self._last_failed = isinstance(outcome, Failure)
        can_retry = self.resume_later is not None and not self._closed
        decision = core.settle(request, outcome, time.monotonic(), time.time(), can_retry=can_retry)
        log_decision(decision)
        item = request.item
        if isinstance(decision, RetryAsStore) and item is not None:
            return core.build_request(item, time.monotonic(), time.time())
        if isinstance(decision, RetryLater) and item is not None:
            # Back at the head of the queue, still unsettled; take() pauses before it.
            self._queue.appendleft(item.retried())
            self._queued_bytes += len(item.payload)
            return self.take()
        self._unsettled -= 1  # the event or the report: take() tells the idle waiters
        return self.take()

    def resume(self) -> bool:
        """After a pause (see :attr:`resume_later`): True when the adapter should start a send task."""
        self._resume_pending = False
        if self._queue and not self._closed and self._in_flight < self.limit:
            self._in_flight += 1
            return True
        return False

    def close(self) -> None:
        """Refuse new events; count the queued ones as lost (``queue_overflow``)."""
        self._closed = True
        while self._queue:
            item = self._queue.popleft()
            self.core.record_lost(Reason.QUEUE_OVERFLOW, item.category)
            self._settle_one()
        self._queued_bytes = 0

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once nothing is unsettled (at once if nothing is)."""
        if self._unsettled == 0:
            callback()
        else:
            self._on_idle.append(callback)

    def forget(self, callback: Callable[[], None]) -> None:
        """Drop a ``when_idle`` callback (its waiter timed out)."""
        if callback in self._on_idle:
            self._on_idle.remove(callback)

    def abandon(self, request: Request) -> None:
        """The task could not send ``request`` (it was cancelled): settle it as lost; the task ends."""
        log_decision(
            self.core.settle(
                request, Failure(FailureKind.OTHER, "send cancelled"), time.monotonic(), time.time()
            )
        )
        self._unsettled -= 1
        self._in_flight -= 1
        self._notify_idle()

    def _settle_one(self) -> None:
        self._unsettled -= 1
        self._notify_idle()

    def _notify_idle(self) -> None:
        if self._unsettled == 0 and self._on_idle:
            callbacks, self._on_idle = self._on_idle, []
            for callback in callbacks:
                callback()
