"""The background worker of the threaded transports: a bounded queue and a few sender threads.

The caller's thread only enqueues (:meth:`Worker.submit` never blocks on the network and never
raises). Sender threads, each with its own persistent connection, deliver the events through
the :class:`~raven._delivery.core.DeliveryCore`.

Policy:

* The queue is bounded by count (``queue_size``) and by payload bytes (``queue_bytes``),
  whichever comes first. When full, the *new* event is dropped and counted as
  ``queue_overflow``: memory stays bounded during an outage.
* Threads start lazily, on the first event. One sender to start with; another (up to
  ``max_connections``) only while a backlog builds, that is when no sender is idle and more than
  :data:`BACKLOG_PER_SENDER` events wait per running sender. A sequential connection to a server
  50-100 ms away delivers only 10-20 events/s, so a burst needs parallel connections; a quiet
  application keeps one thread and one connection. Extra senders exit after
  :data:`EXTRA_SENDER_IDLE` seconds without work.
* At most ``DeliveryCore.width`` requests are in flight: one until the server has answered 2xx
  (and again whenever it fails), so a burst into a server whose state is unknown goes out one
  request at a time and a 429 stops it after the first. The rate limit is checked when an event
  leaves the queue, right before its request is built.
* After a send that got no HTTP answer every sender waits out the core's pause
  (``raven._delivery.backoff``); events that reached nothing stay at the head of the queue.
* ``flush(timeout)`` waits (on a condition, no polling) until every submitted event is settled:
  sent or counted lost. ``close(timeout)`` flushes, then counts every event still queued or in
  flight before it returns (``DeliveryCore.lost_at_close``), in one log line; a send still in
  flight finishes in the background and is not counted again. At interpreter exit, each live
  worker is closed within its ``shutdown_timeout`` (logged, never printed). At exit the wait is
  bounded and the application is done, so a backlog may use up to :data:`EXIT_CONNECTIONS_FACTOR`
  times ``max_connections`` senders (when the server answers 2xx): 500 events against a server
  50 ms away need 16 connections to leave within the default 2 s. (Python 3.12.0-3.12.x may refuse
  new threads at exit; the running senders then carry on alone.)
* Fork: in the child the worker starts afresh (empty queue, no threads, new locks); threads and
  connections are made again on the child's first event. The parent's sockets are never used.

Green threads: every primitive (``threading.Thread``/``Condition``, ``time.monotonic``,
``os.getpid``) is looked up when used, so after gevent/eventlet monkeypatching the worker runs on
greenlets. The green transports may reuse this class with their own connection factory.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
import weakref
from collections import deque
from typing import Callable, Optional, Protocol, Union

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import TransportOptions
from raven._delivery.model import (
    EventItem,
    Failure,
    Kept,
    Outcome,
    Reason,
    Request,
    RetryAsStore,
    RetryLater,
)
from raven._runtime.logs import (
    errors,
    log_decision,
    log_lost_at_close,
    log_queue_overflow,
    log_rate_limited,
)

#: Start another sender when more than this many events wait per running sender (and none is idle).
BACKLOG_PER_SENDER = 4
#: Senders beyond the first exit after this many idle seconds (their connection with them).
EXTRA_SENDER_IDLE = 60.0
#: At interpreter exit a backlog may use this many times ``max_connections`` senders.
EXIT_CONNECTIONS_FACTOR = 4
#: An idle sender looks this often whether a client report is due (``DeliveryCore.report_request``).
REPORT_INTERVAL = 30.0
#: A close waits at most this long for events whose reply came just before it gave up.
SETTLING_WAIT = 0.5


class Poster(Protocol):
    """A connection as the worker uses it (``raven._runtime.connection.Connection``)."""

    def post(self, request: Request) -> Outcome: ...

    def close(self) -> None: ...

    def detach(self) -> None: ...


#: A raw job (raven 6.10's ``async_send`` called directly): runs on a sender with its connection.
Job = Callable[[Poster], None]


class _RawJob:
    __slots__ = ("run", "size")

    def __init__(self, run: Job, size: int) -> None:
        self.run = run
        self.size = size


_Entry = Union[EventItem, Request, _RawJob]


def _size(entry: _Entry) -> int:
    if isinstance(entry, EventItem):
        return len(entry.payload)
    if isinstance(entry, _RawJob):
        return entry.size
    return 0  # client reports do not count against the queue bounds


class Worker:
    """Background delivery for one client (a :class:`~raven._runtime.dispatch.Dispatcher`).

    ``connect()`` makes one connection per sender thread. ``core`` may be None for a worker that
    only runs raw jobs.
    """

    def __init__(
        self,
        core: Optional[DeliveryCore],
        options: TransportOptions,
        connect: Callable[[], Poster],
        name: str = "raven-ng",
    ) -> None:
        self.core = core
        self.options = options
        self.name = name
        self._connect = connect
        self._counter = itertools.count(1)
        self._reset_state()
        _register(self)

    def _reset_state(self) -> None:
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # senders wait here for entries
        self._settled = threading.Condition(lock)  # flush() waits here
        self._queue: deque[_Entry] = deque()
        self._queued_bytes = 0
        self._unsettled = 0  # entries submitted and not yet settled (queued or in flight)
        # Entries taken by a sender and not yet settled, by id: what a close counts if it gives up.
        self._in_flight: dict[int, _Entry] = {}
        self._owned: set[int] = set()  # in flight, claimed by their sender after the exchange
        self._senders = 0
        self._idle = 0
        self._cap = self.options.max_connections  # senders at most (more at exit)
        self._closed = False
        self._started = False
        self._last_failed = False
        self._posters: set[Poster] = set()
        self._pid = os.getpid()

    # -- the Dispatcher interface

    def submit(self, item: EventItem) -> None:
        """Queue ``item``; drop it (counted) if rate-limited, the queue is full or we are closed."""
        try:
            core = self.core
            if core is None:
                raise RuntimeError("this worker has no delivery core")
            if self._pid != os.getpid():
                self._after_fork()
            if not core.admit(item, time.monotonic()):
                log_rate_limited(item.category)
                return
            if not self._enqueue(item):
                core.lose(item, Reason.QUEUE_OVERFLOW)
                log_queue_overflow(self.options.queue_size, self.options.queue_bytes)
        except Exception:
            errors.error("worker:submit", "Sentry: could not queue an event", exc_info=True)

    def submit_job(self, run: Job, size: int = 0) -> bool:
        """Queue a raw job; False (and nothing runs) if the queue is full or closed."""
        try:
            if self._pid != os.getpid():
                self._after_fork()
            return self._enqueue(_RawJob(run, size))
        except Exception:
            errors.error("worker:submit", "Sentry: could not queue a job", exc_info=True)
            return False

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything submitted is settled. ``timeout=None``: ``shutdown_timeout``.

        Also sends the pending client report, unless the last exchange failed (the server is
        unreachable: the report would only add a timeout) or the core holds it back.
        """
        try:
            if self._pid != os.getpid():
                self._after_fork()
            limit = self.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
            deadline = time.monotonic() + limit
            core = self.core
            if core is not None and self._started and not self._last_failed:
                report = core.report_request(time.monotonic(), time.time(), forced=True)
                if report is not None and not self._enqueue(report):
                    core.give_back(report)
            with self._settled:
                while self._unsettled > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._settled.wait(remaining)
            return True
        except Exception:
            errors.error("worker:flush", "Sentry: flush failed", exc_info=True)
            return False

    def close(self, timeout: Optional[float] = None) -> None:
        """Deliver what is queued (at most ``timeout``, default ``shutdown_timeout``), then stop.

        Every event not delivered by then, queued or in flight, is counted before this returns
        (``network_error``, or ``ratelimit_backoff`` while a limit covers it) and logged in one
        line; a send still in flight finishes in the background without being counted again.
        Later submits are dropped (``queue_overflow``).
        """
        self._close(timeout, "close")

    def _close(self, timeout: Optional[float], when: str) -> None:
        try:
            started = time.monotonic()
            self.flush(timeout)
            with self._work:
                self._closed = True
                given_up = list(self._queue) + list(self._in_flight.values())
                self._queue.clear()
                self._queued_bytes = 0
                self._in_flight.clear()
                self._settle_locked(len(given_up))
                self._work.notify_all()
                self._settled.notify_all()
                # Entries whose reply just came are being settled by their sender (no I/O left).
                deadline = time.monotonic() + SETTLING_WAIT
                while self._owned and time.monotonic() < deadline:
                    self._settled.wait(max(0.0, deadline - time.monotonic()))
            reasons = self._count_given_up(given_up)
            log_lost_at_close(reasons, time.monotonic() - started, when)
        except Exception:
            errors.error("worker:close", "Sentry: close failed", exc_info=True)

    # -- introspection (tests, stats)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def unsettled(self) -> int:
        return self._unsettled

    @property
    def senders(self) -> int:
        return self._senders

    # -- queueing

    def _enqueue(self, entry: _Entry) -> bool:
        size = _size(entry)
        options = self.options
        with self._work:
            if self._closed:
                return False
            # Client reports are not bounded.
            if not isinstance(entry, Request) and not options.queue_has_room(
                len(self._queue), self._queued_bytes, size
            ):
                return False
            self._queue.append(entry)
            self._queued_bytes += size
            self._unsettled += 1
            self._started = True
            start = self._wants_sender()
            if start:
                self._senders += 1
            else:
                self._work.notify()
        if start:
            self._start_sender()
        return True

    def _width(self) -> int:
        """Entries that may be in flight at once (see ``DeliveryCore.width``)."""
        core = self.core
        return core.width(self._cap) if core is not None else self._cap

    def _wants_sender(self) -> bool:
        """With the lock held: whether the backlog needs one more sender thread."""
        if self._senders == 0:
            return bool(self._queue)
        return (
            self._idle == 0
            and self._senders < self._width()
            and len(self._queue) > BACKLOG_PER_SENDER * self._senders
        )

    def _grow_for_exit(self) -> None:
        """Start the senders a backlog needs to leave within the exit wait."""
        with self._work:
            self._cap = EXIT_CONNECTIONS_FACTOR * self.options.max_connections
            wanted = min(self._width(), -(-len(self._queue) // BACKLOG_PER_SENDER))
            extra = max(0, wanted - self._senders)
            self._senders += extra
            self._work.notify_all()
        for _ in range(extra):
            self._start_sender()

    def _start_sender(self) -> None:
        thread = threading.Thread(
            target=self._run, name=f"{self.name}-sender-{next(self._counter)}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # e.g. "can't create new thread at interpreter shutdown"
            with self._work:
                self._senders -= 1
                if self._senders > 0:
                    self._work.notify()
                    return
            errors.error("worker:thread", "Sentry: cannot start a sender thread", exc_info=True)

    # -- the sender thread

    def _run(self) -> None:
        poster: Optional[Poster] = None
        turned_away: list[str] = []
        try:
            while True:
                entry = self._next_entry(turned_away)
                for category in turned_away:
                    log_rate_limited(category)
                turned_away.clear()
                if entry is None:
                    return
                try:
                    if poster is None:
                        poster = self._connect()
                        with self._work:
                            self._posters.add(poster)
                    if isinstance(entry, EventItem):
                        self._deliver(poster, entry)
                    elif isinstance(entry, Request):
                        self._send_report(poster, entry)
                    else:
                        entry.run(poster)
                except Exception:
                    if isinstance(entry, EventItem) and self.core is not None and self._claim(entry):
                        self.core.lose(entry, Reason.SEND_ERROR)
                    errors.error("worker:deliver", "Sentry: delivering an event failed", exc_info=True)
                finally:
                    self._done(entry)
        except BaseException:
            with self._work:
                self._senders -= 1  # _next_entry did not count this exit
            raise
        finally:
            if poster is not None:
                with self._work:
                    self._posters.discard(poster)
                poster.close()

    def _next_entry(self, turned_away: list[str]) -> Optional[_Entry]:
        """The next entry to process; None (and this sender is no longer counted) when it should exit.

        Events a rate limit now covers are counted and skipped here (their categories are appended
        to ``turned_away`` for the caller to log outside the lock).
        """
        core = self.core
        with self._work:
            while True:
                if self._queue and not self._closed:
                    pause = self._hold()
                    if pause > 0:
                        self._work.wait(pause)  # the server could not be reached: let it come back
                        continue
                    if len(self._in_flight) >= self._width():
                        self._idle += 1
                        try:
                            self._work.wait()  # woken when a send ends
                        finally:
                            self._idle -= 1
                        continue
                    entry = self._queue.popleft()
                    self._queued_bytes -= _size(entry)
                    if (
                        isinstance(entry, EventItem)
                        and core is not None
                        and not core.admit(entry, time.monotonic())
                    ):  # a limit started while it waited
                        turned_away.append(entry.category)
                        self._settle_locked(1)
                        continue
                    self._in_flight[id(entry)] = entry
                    return entry
                if self._closed:
                    self._senders -= 1
                    return None
                self._idle += 1
                try:
                    woken = self._work.wait(EXTRA_SENDER_IDLE if self._senders > 1 else REPORT_INTERVAL)
                finally:
                    self._idle -= 1
                if woken or self._queue or self._closed:
                    continue
                if self._senders > 1:
                    self._senders -= 1  # an extra sender, idle: let it go
                    return None
                report = self._idle_report()
                if report is not None:
                    self._unsettled += 1
                    self._in_flight[id(report)] = report
                    return report

    def _claim(self, entry: _Entry) -> bool:
        """Take over the accounting of an entry in flight; False if a close already counted it
        (or it was claimed before)."""
        key = id(entry)
        with self._work:
            if self._in_flight.pop(key, None) is None:
                return False
            self._owned.add(key)
            return True

    def _done(self, entry: _Entry) -> None:
        """A sender finished ``entry``: it is settled (unless a close already counted it)."""
        key = id(entry)
        with self._work:
            if self._in_flight.pop(key, None) is not None or key in self._owned:
                self._owned.discard(key)
                self._settle_locked(1)
                if self._closed:
                    self._settled.notify_all()  # a close may wait for the last settling entries
            if self._queue:
                self._work.notify_all()  # the width may have grown, or a slot is free
                if self._wants_sender():
                    self._senders += 1
                    grow = True
                else:
                    grow = False
            else:
                grow = False
        if grow:
            self._start_sender()

    def _settle_locked(self, count: int) -> None:
        self._unsettled -= count
        if self._unsettled <= 0:
            self._settled.notify_all()

    def _hold(self) -> float:
        core = self.core
        return core.hold(time.monotonic()) if core is not None else 0.0

    def _requeue(self, item: EventItem) -> None:
        """Put an event that could not reach the server back at the head of the queue."""
        with self._work:
            if not self._closed:
                self._queue.appendleft(item.retried())
                self._queued_bytes += _size(item)
                self._unsettled += 1
                return
        if self.core is not None:
            self.core.lose(item, Reason.NETWORK_ERROR)

    def _park(self) -> None:
        """The server cannot be reached: queued events with a spool file go back to the spool."""
        core = self.core
        assert core is not None
        with self._work:
            parked = core.take_parked(self._queue)
            if not parked:
                return
            self._queued_bytes -= sum(_size(e) for e in parked)
            self._settle_locked(len(parked))
        for item in parked:
            core.lose(item, Reason.NETWORK_ERROR)

    def _idle_report(self) -> Optional[Request]:
        core = self.core
        if core is None or self._last_failed:
            return None
        return core.report_request(time.monotonic(), time.time())

    def _exchange(self, poster: Poster, request: Request) -> Outcome:
        outcome = poster.post(request)
        self._last_failed = isinstance(outcome, Failure)
        return outcome

    def _deliver(self, poster: Poster, item: EventItem) -> None:
        """Send one event (and once more to ``/store/`` if the core says so); a close may have
        counted it while it was in flight, then only the core's state is updated."""
        core = self.core
        assert core is not None
        for attempt in (1, 2):
            request = core.build_request(item, time.monotonic(), time.time())
            outcome = self._exchange(poster, request)
            owned = self._claim(item)
            decision = core.settle(
                request, outcome, time.monotonic(), time.time(), can_retry=True, account=owned
            )
            if not owned:
                return
            log_decision(decision)
            if isinstance(decision, Kept):
                self._park()
            elif isinstance(decision, RetryLater):
                self._requeue(item)
            elif isinstance(decision, RetryAsStore):
                if attempt == 2:  # never twice
                    core.lose(item, Reason.SEND_ERROR)
                    break
                with self._work:
                    if not self._closed:
                        self._owned.discard(id(item))
                        self._in_flight[id(item)] = item
                        continue
                core.lose(item, Reason.NETWORK_ERROR)
            break
        if not self._queue and not self._last_failed:
            # The queue ran dry: a report of what was lost meanwhile, if one is due.
            report = core.report_request(time.monotonic(), time.time())
            if report is not None and not self._enqueue(report):
                core.give_back(report)

    def _send_report(self, poster: Poster, request: Request) -> None:
        core = self.core
        assert core is not None
        if self._last_failed:
            core.give_back(request)
            return
        outcome = self._exchange(poster, request)
        log_decision(core.settle(request, outcome, time.monotonic(), time.time()))

    def _count_given_up(self, entries: list[_Entry]) -> list[Optional[Reason]]:
        """Count what a close gave up on; the reasons of the events among them."""
        core = self.core
        reasons: list[Optional[Reason]] = []
        if core is None:
            return reasons
        now = time.monotonic()
        for entry in entries:
            if isinstance(entry, EventItem):
                reasons.append(core.lost_at_close(entry, now))
            elif isinstance(entry, Request):
                core.give_back(entry)
        return reasons

    # -- process lifecycle

    def _after_fork(self) -> None:
        """In a forked child: start afresh; forget (never close, never use) the parent's sockets."""
        posters = list(self._posters)
        self._reset_state()
        for poster in posters:
            try:
                poster.detach()
            except Exception:
                pass

    def _shutdown_at_exit(self, timeout: float) -> None:
        if self._pid != os.getpid() or not self._started:
            return
        if not self._last_failed:
            self._grow_for_exit()
        self._close(timeout, "exit")


# -- process-wide hooks: one atexit hook and one fork hook for every live worker

_workers: weakref.WeakSet[Worker] = weakref.WeakSet()
_workers_lock = threading.Lock()


def _register(worker: Worker) -> None:
    with _workers_lock:
        _workers.add(worker)


def _live_workers() -> list[Worker]:
    with _workers_lock:
        return list(_workers)


def _shutdown_all() -> None:
    """At interpreter exit: let each worker deliver for at most its ``shutdown_timeout``, together
    at most the longest of them."""
    workers = _live_workers()
    if not workers:
        return
    longest = max(w.options.shutdown_timeout for w in workers)
    deadline = time.monotonic() + longest
    for worker in workers:
        try:
            remaining = max(0.0, deadline - time.monotonic())
            worker._shutdown_at_exit(min(worker.options.shutdown_timeout, remaining))
        except Exception:
            pass


def _after_fork_in_child() -> None:
    global _workers_lock
    _workers_lock = threading.Lock()  # the parent may have held it while forking
    for worker in list(_workers):
        worker._after_fork()


atexit.register(_shutdown_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
