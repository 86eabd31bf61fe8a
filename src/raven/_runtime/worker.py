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
* ``flush(timeout)`` waits (on a condition, no polling) until every submitted event is settled:
  sent or counted lost. At interpreter exit, each live worker gets at most its
  ``shutdown_timeout``; what is still unsent is logged (never printed). At exit the wait is
  bounded and the application is done, so a backlog may use up to :data:`EXIT_CONNECTIONS_FACTOR`
  times ``max_connections`` senders: 500 events against a server 50 ms away need 16 connections
  to leave within the default 2 s. (Python 3.12.0-3.12.x may refuse new threads at exit; the
  running senders then carry on alone.)
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
    FailureKind,
    Outcome,
    Reason,
    Request,
    RetryAsStore,
    RetryLater,
)
from raven._runtime.logs import errors, log_decision, log_queue_overflow, log_rate_limited

#: Start another sender when more than this many events wait per running sender (and none is idle).
BACKLOG_PER_SENDER = 4
#: Senders beyond the first exit after this many idle seconds (their connection with them).
EXTRA_SENDER_IDLE = 60.0
#: At interpreter exit a backlog may use this many times ``max_connections`` senders.
EXIT_CONNECTIONS_FACTOR = 4
#: An idle sender sends the pending client report (events lost outside the worker) this often.
REPORT_INTERVAL = 30.0


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
        self._senders = 0
        self._idle = 0
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
                core.record_lost(Reason.QUEUE_OVERFLOW, item.category)
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
        unreachable: the report would only add a timeout).
        """
        try:
            if self._pid != os.getpid():
                self._after_fork()
            limit = self.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
            deadline = time.monotonic() + limit
            core = self.core
            if core is not None and self._started and not self._last_failed:
                report = core.report_request(time.monotonic(), time.time())
                if report is not None and not self._enqueue(report):
                    self._give_back(report)
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

        Events still queued then are dropped and counted as ``queue_overflow``; later submits too.
        """
        try:
            self.flush(timeout)
            with self._work:
                self._closed = True
                dropped = list(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
                self._unsettled -= len(dropped)
                self._work.notify_all()
                self._settled.notify_all()
            self._count_dropped(dropped)
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
            start = self._senders == 0 or (
                self._idle == 0
                and self._senders < options.max_connections
                and len(self._queue) > BACKLOG_PER_SENDER * self._senders
            )
            if start:
                self._senders += 1
            else:
                self._work.notify()
        if start:
            self._start_sender()
        return True

    def _grow_for_exit(self) -> None:
        """Start the senders a backlog needs to leave within the exit wait."""
        limit = EXIT_CONNECTIONS_FACTOR * self.options.max_connections
        with self._work:
            wanted = min(limit, -(-len(self._queue) // BACKLOG_PER_SENDER))
            extra = max(0, wanted - self._senders)
            self._senders += extra
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
        try:
            while True:
                entry = self._next_entry()
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
                    if isinstance(entry, EventItem) and self.core is not None and poster is None:
                        self.core.record_lost(Reason.SEND_ERROR, entry.category)
                    errors.error("worker:deliver", "Sentry: delivering an event failed", exc_info=True)
                finally:
                    with self._work:
                        self._unsettled -= 1
                        if self._unsettled <= 0:
                            self._settled.notify_all()
        except BaseException:
            with self._work:
                self._senders -= 1  # _next_entry did not count this exit
            raise
        finally:
            if poster is not None:
                with self._work:
                    self._posters.discard(poster)
                poster.close()

    def _next_entry(self) -> Optional[_Entry]:
        """The next entry to process; None (and this sender is no longer counted) when it should exit."""
        with self._work:
            while True:
                if self._queue:
                    pause = self._hold()
                    if pause <= 0 or self._closed:
                        break
                    self._work.wait(pause)  # the server could not be reached: let it come back
                    continue
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
                    return report
            entry = self._queue.popleft()
            self._queued_bytes -= _size(entry)
            return entry

    def _hold(self) -> float:
        core = self.core
        return core.hold(time.monotonic()) if core is not None else 0.0

    def _requeue(self, item: EventItem) -> None:
        """Put an event that could not reach the server back at the head of the queue."""
        with self._work:
            if self._closed:
                if self.core is not None:
                    self.core.record_lost(Reason.NETWORK_ERROR, item.category)
                return
            self._queue.appendleft(item.retried())
            self._queued_bytes += _size(item)
            self._unsettled += 1

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
        core = self.core
        assert core is not None
        if not core.admit(item, time.monotonic()):  # a limit may have started while it waited
            return
        request = core.build_request(item, time.monotonic(), time.time())
        settled = False
        try:
            outcome = self._exchange(poster, request)
            decision = core.settle(request, outcome, time.monotonic(), time.time(), can_retry=True)
            settled = True
            log_decision(decision)
            if isinstance(decision, RetryAsStore):
                settled = False
                request = core.build_request(item, time.monotonic(), time.time())
                outcome = self._exchange(poster, request)
                decision = core.settle(request, outcome, time.monotonic(), time.time(), can_retry=True)
                settled = not isinstance(decision, RetryAsStore)
                log_decision(decision)
            if isinstance(decision, RetryLater):
                self._requeue(item)
                return
        finally:
            if not settled:
                core.record_lost(Reason.SEND_ERROR, item.category)
        if self._queue or self._last_failed:
            return
        # The queue ran dry: send what was lost meanwhile, if the server is reachable.
        report = core.report_request(time.monotonic(), time.time())
        if report is not None:
            self._send_report(poster, report)

    def _send_report(self, poster: Poster, request: Request) -> None:
        core = self.core
        assert core is not None
        if self._last_failed:
            self._give_back(request)
            return
        outcome = self._exchange(poster, request)
        log_decision(core.settle(request, outcome, time.monotonic(), time.time()))

    def _give_back(self, request: Request) -> None:
        """Return a report's counts to the core without sending it (it settles as a failure)."""
        core = self.core
        if core is not None:
            core.settle(request, Failure(FailureKind.OTHER, "not sent"), time.monotonic(), time.time())

    def _count_dropped(self, entries: list[_Entry]) -> None:
        core = self.core
        for entry in entries:
            if isinstance(entry, EventItem) and core is not None:
                core.record_lost(Reason.QUEUE_OVERFLOW, entry.category)
            elif isinstance(entry, Request):
                self._give_back(entry)

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
        if not self.flush(timeout):
            with self._work:
                left = self._unsettled
            errors.warning(
                "worker:exit",
                "Sentry: %d event(s) could not be sent before exit (waited %.1f s, the shutdown_timeout)",
                left,
                timeout,
            )
        self.close(0)


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
