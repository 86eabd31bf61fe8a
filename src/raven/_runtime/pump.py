"""Delivery bookkeeping for the transports whose sends are tasks on an event loop.

gevent, eventlet, tornado, twisted and asyncio each start send tasks in their own idiom, but the
rules are the same and live here once:

* a queue bounded by count and bytes (overflow drops the new event, counted ``queue_overflow``);
* at most ``DeliveryCore.width(limit)`` send tasks: one while the server has not answered 2xx yet
  (or is failing), ``limit`` once it does, so a burst never fans out into an unknown server;
* the rate-limit check when a request is taken, right before its bytes leave;
* one retry to ``/store/`` when the core says so;
* a pause with the event kept after a failed connection (``raven._delivery.backoff``), resumed on
  the loop's timer (:attr:`Pump.resume_later`);
* the client report: on its own only when the core says one is due (the queue ran dry), or when a
  flush asks (:meth:`Pump.kick`);
* a count of unsettled events for ``flush``, and at :meth:`Pump.close` every event still queued or
  in flight counted (``DeliveryCore.lost_at_close``) and logged in one line; a send that finishes
  after that is not counted again.

A :class:`Pump` does no I/O. It is not thread-safe: call it from the loop's thread only (adapters
hop onto the loop first when a capture comes from another thread). The adapter sets
:attr:`Pump.start_task` (start one send task) and :attr:`Pump.resume_later`; a send task is, in
its own idiom::

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
    Kept,
    Outcome,
    Reason,
    Request,
    RetryAsStore,
    RetryLater,
)
from raven._runtime.logs import log_decision, log_lost_at_close, log_queue_overflow, log_rate_limited


def _no_task() -> None:
    raise RuntimeError("the adapter did not set Pump.start_task")


class Pump:
    """Queue and in-flight accounting of one client on an event loop."""

    def __init__(self, core: DeliveryCore, options: TransportOptions, limit: int) -> None:
        self.core = core
        self.options = options
        self.limit = max(1, limit)
        self._queue: deque[EventItem] = deque()
        self._queued_bytes = 0
        self._in_flight = 0  # send tasks started and not ended
        self._unsettled = 0  # events offered and reports started, not yet sent or counted lost
        self._sending: dict[int, Request] = {}  # requests taken and not finished, by id
        self._last_failed = False
        self._closed = False
        self._on_idle: list[Callable[[], None]] = []
        #: Set by the adapter: start one send task (it calls :meth:`take`, then :meth:`finish` ...).
        self.start_task: Callable[[], None] = _no_task
        #: Set by an adapter that can wait: ``resume_later(delay)`` calls :meth:`resume` after
        #: ``delay`` seconds on the loop. With it, events that meet a failed connection wait in the
        #: queue (``raven._delivery.backoff``).
        self.resume_later: Optional[Callable[[float], None]] = None
        self._resume_pending = False
        self._kicked: Optional[Request] = None  # a report flush asked for, until its task takes it
        self._report_wanted = False  # a flush asked while tasks ran: the last one sends the report

    @property
    def unsettled(self) -> int:
        return self._unsettled

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def offer(self, item: EventItem) -> None:
        """Queue ``item`` (or count it lost); start a send task if the width allows one more."""
        core = self.core
        if not core.admit(item, time.monotonic()):
            log_rate_limited(item.category)
            return
        options = self.options
        size = len(item.payload)
        if self._closed or not options.queue_has_room(len(self._queue), self._queued_bytes, size):
            core.lose(item, Reason.QUEUE_OVERFLOW)
            log_queue_overflow(options.queue_size, options.queue_bytes)
            return
        self._queue.append(item)
        self._queued_bytes += size
        self._unsettled += 1
        self._grow(1)

    def kick(self) -> None:
        """``flush`` (or close) asks for the pending client report (after drops that no later event
        carries, e.g. during a rate limit) to go on its own, if the core agrees: now with no send
        task running, else when the last one runs out of events."""
        if self._closed or self._last_failed:
            return
        if self._in_flight:
            self._report_wanted = True
            return
        report = self.core.report_request(time.monotonic(), time.time(), forced=True)
        if report is None:
            return
        self._kicked = report
        self._in_flight += 1
        self._unsettled += 1  # counted like an event, so that a flush returns once it is out
        self.start_task()

    def take(self) -> Optional[Request]:
        """The next request for a send task; None means the task ends (it is no longer counted)."""
        request = self._next()
        if request is not None:
            self._sending[id(request)] = request
        self._notify_idle()  # only now: a report started by this call still counts as unsettled
        return request

    def _next(self) -> Optional[Request]:
        core = self.core
        if self._kicked is not None:
            request, self._kicked = self._kicked, None
            return request
        if self._queue and not self._closed:
            if self.resume_later is not None:
                pause = core.hold(time.monotonic())
                if pause > 0:  # the server could not be reached: this task ends, one resumes later
                    self._in_flight -= 1
                    if not self._resume_pending:
                        self._resume_pending = True
                        self.resume_later(pause)
                    return None
            if self._in_flight > core.width(self.limit):  # the server is failing: fewer tasks
                self._in_flight -= 1
                return None
        while self._queue:
            item = self._queue.popleft()
            self._queued_bytes -= len(item.payload)
            if core.admit(item, time.monotonic()):  # a limit may have started while it waited
                return core.build_request(item, time.monotonic(), time.time())
            log_rate_limited(item.category)
            self._unsettled -= 1
        self._in_flight -= 1
        if self._in_flight == 0 and not self._last_failed and not self._closed:
            forced, self._report_wanted = self._report_wanted, False
            report = core.report_request(time.monotonic(), time.time(), forced=forced)
            if report is not None:
                self._in_flight += 1
                self._unsettled += 1
                return report
        return None

    def finish(self, request: Request, outcome: Outcome) -> Optional[Request]:
        """Settle ``request``; return what the same task sends next (a retry or the next request)."""
        core = self.core
        owned = self._sending.pop(id(request), None) is not None
        self._last_failed = isinstance(outcome, Failure)
        can_retry = self.resume_later is not None and not self._closed
        decision = core.settle(
            request, outcome, time.monotonic(), time.time(), can_retry=can_retry, account=owned
        )
        if not owned:  # a close counted it already; the task ends
            self._in_flight -= 1
            self._notify_idle()
            return None
        log_decision(decision)
        item = request.item
        if isinstance(decision, RetryAsStore) and item is not None:
            retry = core.build_request(item, time.monotonic(), time.time())
            self._sending[id(retry)] = retry
            return retry
        if isinstance(decision, Kept):
            self._park()
        if isinstance(decision, RetryLater) and item is not None:
            # Back at the head of the queue, still unsettled; take() pauses before it.
            self._queue.appendleft(item.retried())
            self._queued_bytes += len(item.payload)
            return self.take()
        self._unsettled -= 1  # the event or the report: take() tells the idle waiters
        self._grow(len(self._queue) - 1)  # a 2xx may have widened the way (this task takes one)
        return self.take()

    def _park(self) -> None:
        """The server cannot be reached: queued events with a spool file go back to the spool."""
        core = self.core
        parked = core.take_parked(self._queue)
        if not parked:
            return
        self._queued_bytes -= sum(len(item.payload) for item in parked)
        self._unsettled -= len(parked)
        for item in parked:
            core.lose(item, Reason.NETWORK_ERROR)

    def resume(self) -> None:
        """After a pause (see :attr:`resume_later`): start a send task for the queued events."""
        self._resume_pending = False
        self._grow(1)

    def close(self, waited: float = 0.0, when: str = "close") -> None:
        """Refuse new events; count every event still queued or in flight as lost (one log line).

        ``waited``: how long the close waited before giving up (for the log line).
        """
        self._closed = True
        core = self.core
        given_up = list(self._queue)
        settled = len(given_up)
        self._queue.clear()
        self._queued_bytes = 0
        for request in self._sending.values():
            settled += 1
            if request.item is not None:
                given_up.append(request.item)
        self._sending.clear()
        if self._kicked is not None:
            core.give_back(self._kicked)
            self._kicked = None
            settled += 1
        now = time.monotonic()
        reasons = [core.lost_at_close(item, now) for item in given_up]
        self._unsettled -= settled
        log_lost_at_close(reasons, waited, when)
        self._notify_idle()

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
        if self._sending.pop(id(request), None) is not None:
            log_decision(
                self.core.settle(
                    request, Failure(FailureKind.OTHER, "send cancelled"), time.monotonic(), time.time()
                )
            )
            self._unsettled -= 1
        self._in_flight -= 1
        self._notify_idle()

    def _grow(self, wanted: int) -> None:
        """Start up to ``wanted`` more send tasks, as far as the width allows."""
        if self._closed or self._resume_pending:
            return
        width = self.core.width(self.limit)
        while wanted > 0 and self._in_flight < width:
            self._in_flight += 1
            wanted -= 1
            self.start_task()

    def _notify_idle(self) -> None:
        if self._unsettled == 0 and self._on_idle:
            callbacks, self._on_idle = self._on_idle, []
            for callback in callbacks:
                callback()
