"""The durable spool: events on disk, so that an outage, a restart or ``kill -9`` loses none.

Opt-in with ``?spool_dir=/path`` in the DSN (or ``Client(spool_dir=...)``), for every transport.
:class:`SpooledDispatcher` sits between the client and the transport's own dispatcher (worker,
loop pump, callback or synchronous): delivery is the same, the spool only keeps a copy.

* **Capture.** The caller's thread never touches the disk: :meth:`Spool.admit` tags the event with
  a spool key and queues it for the spool's thread. While the server is not known to be away and
  the spooled events in memory stay within ``queue_size`` and ``queue_bytes``, it also hands it to
  the transport at once, and the thread writes it only if it is not sent within ``WRITE_DELAY``;
  otherwise the event waits on disk only, written at once, so memory stays flat during a long
  outage. A file is a Sentry envelope (``raven._delivery.spool``).
* **Settling.** The delivery core tells the spool (``DeliveryCore.spool``): sent, or refused by the
  server (4xx/5xx other than what Sentry retries, 413, 429), or turned away by a rate limit: the
  file goes; no HTTP answer (refused, timeout, TLS, reset), queue full, or a close that gave up:
  the file stays and is not counted as lost, to be sent later.
* **Replay.** The spool's thread hands files to the transport, oldest first, a few per connection
  the core allows (one connection until the server answers 2xx), never while the server cannot be
  reached (the core's pause, with jitter) or a rate limit covers errors. It takes the files this
  process left and those of processes that are gone (``raven._runtime.spool_files``), at start and
  every ``RESCAN_INTERVAL`` seconds.
* **Bounds.** ``spool_max_bytes``, ``spool_max_files``, ``spool_max_age``: the oldest files go
  first, counted ``cache_overflow``.
* **Trouble.** A directory that cannot be created or written (read-only, full, no permission)
  turns the spool off for ``DEGRADED_FOR`` seconds, logged once a minute: events are delivered
  from memory meanwhile, as without a spool. Files that are not whole spool files are moved to
  ``corrupt/`` with a log line.
* **Close and exit.** ``close(timeout)`` delivers (feeding from disk too) for at most
  ``timeout``; what is left stays on disk for the next start. At interpreter exit the events not
  yet written are written, and the files of events sent from then on are deleted at once.
* **Fork.** The child forgets the parent's events and becomes an owner of its own.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import os
import random
import threading
import time
import weakref
from typing import Any, Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.model import ERROR, EventItem, Reason
from raven._delivery.spool import (
    SpoolName,
    dsn_tag,
    evictions,
    expired,
    feed_delay,
    feed_room,
    read_envelope,
    spool_name,
)
from raven._runtime.dispatch import Dispatcher, loop_idiom
from raven._runtime.logs import errors
from raven._runtime.spool_files import SpoolDir, release

#: An event handed to the transport is written after this many seconds if it is not sent by
#: then (on a healthy server most never touch the disk). One that waits on disk only, or that the
#: transport could not send, is written at once.
WRITE_DELAY = 1.0
#: File names of sendable files kept in memory at once (the oldest).
CANDIDATES = 512
#: Seconds between two looks for files left by other processes, and for expired ones.
RESCAN_INTERVAL = 30.0
#: Seconds before the next look when the candidates ran out with more files on disk.
RESCAN_SOON = 0.05
#: Seconds the spool stays off after the directory failed.
DEGRADED_FOR = 30.0


class _Candidates:
    """The oldest files to replay (a heap), each at most once, ``CANDIDATES`` at most."""

    def __init__(self) -> None:
        self._heap: list[SpoolName] = []
        self.names: set[str] = set()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, name: SpoolName) -> bool:
        """False if it is there already or there is no room (a scan finds it again)."""
        if name.name in self.names or len(self._heap) >= CANDIDATES:
            return False
        heapq.heappush(self._heap, name)
        self.names.add(name.name)
        return True

    def pop(self) -> SpoolName:
        name = heapq.heappop(self._heap)
        self.names.discard(name.name)
        return name

    def remove(self, name: SpoolName) -> None:
        if name.name in self.names:
            self._heap.remove(name)
            heapq.heapify(self._heap)
            self.names.discard(name.name)

    def oldest_first(self) -> list[SpoolName]:
        return sorted(self._heap)


class Spool:
    """The spool of one client (``DeliveryCore.spool``); its thread writes, deletes and replays."""

    def __init__(self, core: DeliveryCore, inner: Callable[[], Optional[Dispatcher]]) -> None:
        options = core.options
        assert options.spool_dir is not None
        self.core = core
        self.limits = options.spool_limits()
        # Spooled events in memory (handed to the transport, not settled), and events waiting to
        # be written, are each bounded as the in-memory queue is (``queue_size``, ``queue_bytes``).
        self._memory_events, self._memory_bytes_max = options.queue_size, options.queue_bytes
        self.dir = SpoolDir(options.spool_dir, self.limits.fsync)
        self._inner = inner
        self._tag = dsn_tag(core.dsn.without_secret())
        self._keys = itertools.count(1)
        self._random = random.Random()
        self._reset()
        _register(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the spool's thread waits here
        self._quiet = threading.Condition(self._lock)  # flush waits here for the writes
        # Events to write: now (key -> item), and later (key -> (item, due)), in due order.
        self._write_now: dict[str, EventItem] = {}
        self._write_later: dict[str, tuple[EventItem, float]] = {}
        self._pending_bytes = 0  # payloads in _write_now
        self._writing = 0
        self._forced = 0  # flushes waiting: write everything now
        self._exiting = False
        self._in_memory: dict[str, int] = {}  # key -> payload bytes, handed to the transport
        self._memory_bytes = 0
        self._names: dict[str, SpoolName] = {}  # key -> its file, for events in memory
        self._fds: dict[str, int] = {}  # key -> lock of a file taken from a process that is gone
        self._failed: set[str] = set()  # in memory, and its file could not be written
        self._jobs: list[tuple[str, SpoolName, Optional[int]]] = []  # ("delete"|"release", file, fd)
        self._candidates = _Candidates()
        # Files of events in memory, and files whose delete or release is queued: not to replay.
        self._busy: set[str] = set()
        self._more = True  # files beyond the candidates (or not looked at yet)
        self._scanned_at = -RESCAN_INTERVAL
        self._files = 0
        self._bytes = 0
        self._feed_at = 0.0
        self._usable = False
        self._off_until = 0.0
        self._feeding = True
        self._closed = False
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()
        #: Events handed back to delivery from memory because their file could not be written.
        self.handed_back = 0

    # -- the client's side

    def start(self) -> None:
        """Open the directory and start the thread (which replays what is on disk)."""
        self._open()
        self._ensure_thread()

    def _open(self) -> None:
        """Become an owner in the directory; if it cannot be used, try again in ``DEGRADED_FOR``."""
        try:
            self.dir.open()
            self._usable = True
            self._scanned_at = -RESCAN_INTERVAL
        except OSError as exc:
            self._off(f"cannot use the spool directory {self.dir.path!r}: {exc}")

    def admit(self, item: EventItem) -> Optional[EventItem]:
        """On the caller's thread: the event to hand to the transport now (tagged), or None when
        it waits on disk only. An event the spool cannot take is returned as it was."""
        if self._pid != os.getpid():
            self._after_fork()
        if not self._usable or self._closed or time.monotonic() < self._off_until:
            return item
        key = f"k{next(self._keys)}"
        tagged = EventItem(item.event_id, item.payload, item.category, item.attempts, key)
        size = len(item.payload)
        now = time.monotonic()
        reachable = self.core.hold(now) <= 0
        with self._lock:
            if (
                reachable
                and len(self._in_memory) < self._memory_events
                and self._memory_bytes + size <= self._memory_bytes_max
            ):
                self._hold(key, size)
                # No wake-up: the thread never sleeps longer than WRITE_DELAY (see _sleep_for).
                self._write_later[key] = (tagged, now + WRITE_DELAY)
                return tagged
            overflow = self._pending_bytes + size > self._memory_bytes_max
            if not overflow:
                self._write_now[key] = tagged
                self._pending_bytes += size
                self._wake.notify()
        if overflow:
            self.core.record_lost(Reason.QUEUE_OVERFLOW, item.category)
            errors.warning(
                "spool:pending",
                "Sentry: captures outrun the spool's disk (%d bytes waiting to be written); event dropped",
                self._memory_bytes_max,
            )
        return None

    def flush(self, timeout: float) -> bool:
        """Write every event admitted so far and not settled, and finish the files settled so
        far; wait (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._forced += 1
            self._wake.notify()
            try:
                while self._write_now or self._write_later or self._jobs or self._writing:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._thread is None:
                        return False
                    self._quiet.wait(left)
            finally:
                self._forced -= 1
        return True

    def stop_feeding(self) -> None:
        with self._lock:
            self._feeding = False

    def close(self, timeout: float, wait: bool = True) -> None:
        """Stop: the thread writes what is pending, lets go of its files and of the directory.
        ``wait``: block until it has (at most ``timeout``); False on an event loop's thread."""
        self.stop_feeding()
        if wait:
            self.flush(max(0.0, timeout))
        with self._lock:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is None:
            self._finish()
        elif wait and thread is not threading.current_thread():
            thread.join(max(0.1, timeout))

    def _finish(self) -> None:
        """After the thread's last round: release every claim and the ownership."""
        with self._lock:
            fds = list(self._fds.values())
            self._fds.clear()
            usable, self._usable = self._usable, False
            self._thread = None
        for fd in fds:
            release(fd)
        if usable:
            try:
                self.dir.close()
            except OSError:
                pass

    # -- the core's side (any thread; never blocks on I/O)

    def done(self, item: EventItem) -> None:
        key = item.spool_key
        if key is None:
            return
        with self._lock:
            self._let_go(key)
            self._failed.discard(key)
            if self._write_later.pop(key, None) is not None:
                return  # settled before it was written: it never will be
            if self._write_now.pop(key, None) is not None:
                self._pending_bytes -= len(item.payload)
                return
            name = self._names.pop(key, None)
            if name is not None:
                self._job("delete", name, self._fds.pop(key, None))

    def kept(self, item: EventItem, reason: Reason) -> None:
        key = item.spool_key
        if key is None:
            return
        with self._lock:
            self._let_go(key)
            waiting = self._write_later.pop(key, None)
            if waiting is not None:  # no longer in memory: on disk now
                self._write_now[key] = waiting[0]
                self._pending_bytes += len(waiting[0].payload)
                self._wake.notify()
                return
            name = self._names.pop(key, None)
            if name is not None:
                self._job("release", name, self._fds.pop(key, None))

    def holds(self, item: EventItem) -> bool:
        return item.spool_key not in self._failed

    def _job(self, kind: str, name: SpoolName, fd: Optional[int]) -> None:
        """With the lock held: a file to delete or let go of, by the thread (or now, if it is
        gone: a send that ends after a close)."""
        if self._thread is not None and not self._exiting:
            self._jobs.append((kind, name, fd))
            self._busy.add(name.name)  # not to be replayed meanwhile
            self._wake.notify()
            return
        self._busy.discard(name.name)
        self._do_job(kind, name, fd)

    def _do_job(self, kind: str, name: SpoolName, fd: Optional[int]) -> None:
        """Delete a file (and count it gone), or let go of its claim."""
        if kind != "delete":
            release(fd)
        elif self.dir.remove(name, fd):
            self._files -= 1
            self._bytes -= name.size

    def _hold(self, key: str, size: int) -> None:
        self._in_memory[key] = size
        self._memory_bytes += size

    def _let_go(self, key: str) -> None:
        size = self._in_memory.pop(key, None)
        if size is not None:
            self._memory_bytes -= size
            if self._candidates:
                self._wake.notify()  # room to feed

    # -- the spool's thread

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="raven-ng-spool", daemon=True)
            self._thread = thread
        try:
            thread.start()
        except RuntimeError:
            with self._lock:
                self._thread = None

    def _run(self) -> None:
        try:
            while True:
                if not self._usable and not self._closed and time.monotonic() >= self._off_until:
                    self._open()
                with self._lock:
                    while not self._due():
                        self._wake.wait(self._sleep_for())
                    keys = self._due_writes()
                    jobs, self._jobs = self._jobs, []
                    closed = self._closed
                    self._writing = len(keys) + len(jobs)  # a flush waits for this round
                for key in keys:
                    self._write(key)
                for kind, name, fd in jobs:
                    self._do_job(kind, name, fd)
                with self._lock:
                    for kind, name, _ in jobs:
                        self._busy.discard(name.name)
                        if kind == "release":
                            self._candidate(name)
                    self._writing = 0
                    self._quiet.notify_all()
                if closed:
                    self._finish()
                    return
                if self._usable and self._scan_due(time.monotonic()):
                    self._scan()
                self._feed()
        except Exception:
            errors.error("spool:thread", "Sentry: the spool's thread failed", exc_info=True)
            with self._lock:
                self._usable = False
                self._thread = None
                self._quiet.notify_all()

    def _due_writes(self) -> list[str]:
        """With the lock held: the keys of the events to write now."""
        keys = list(self._write_now)
        if self._forced or self._closed or self._exiting:
            return keys + list(self._write_later)
        now = time.monotonic()
        for key, (_, due) in self._write_later.items():
            if due > now:
                break
            keys.append(key)
        return keys

    def _next_write(self) -> float:
        """With the lock held: when the first delayed write is due (inf: none)."""
        for _, due in self._write_later.values():
            return 0.0 if (self._forced or self._exiting) else due
        return float("inf")

    def _due(self) -> bool:
        """With the lock held: whether the thread has something to do now."""
        if self._write_now or self._jobs or self._closed:
            return True
        now = time.monotonic()
        if self._next_write() <= now:
            return True
        if not self._usable:
            return now >= self._off_until
        return self._scan_due(now) or self._feed_due(now)

    def _scan_due(self, now: float) -> bool:
        """Every ``RESCAN_INTERVAL`` (files of processes that are gone, expired files), and soon
        when the candidates ran out with more files on disk."""
        since = now - self._scanned_at
        return since >= RESCAN_INTERVAL or (not self._candidates and self._more and since >= RESCAN_SOON)

    def _feed_due(self, now: float) -> bool:
        return self._feeding and now >= self._feed_at and bool(self._candidates) and self._room() > 0

    def _sleep_for(self) -> float:
        now = time.monotonic()
        wake = min(now + WRITE_DELAY, self._next_write())
        if not self._usable:
            return max(0.005, min(wake, self._off_until) - now)
        soon = RESCAN_SOON if self._more and not self._candidates else RESCAN_INTERVAL
        wake = min(wake, self._scanned_at + soon)
        if self._candidates and self._feed_at > now:
            wake = min(wake, self._feed_at)
        return max(0.005, wake - now)

    def _room(self) -> int:
        width = self.core.width(self.core.options.max_connections)
        return min(feed_room(len(self._in_memory), width), self._memory_events - len(self._in_memory))

    def _write(self, key: str) -> None:
        with self._lock:
            item = self._write_now.get(key)
            if item is None:
                waiting = self._write_later.get(key)
                item = waiting[0] if waiting is not None else None
        if item is None:
            return  # settled meanwhile
        name: Optional[SpoolName] = None
        if self._usable and time.monotonic() >= self._off_until:
            data = self.core.spooled_envelope(item)
            name = spool_name(time.time(), self._tag, self.dir.owner, item.event_id, len(data))
            if not self._make_room(name.size):
                name = None
            else:
                try:
                    self.dir.write(name, data)
                    self._files += 1
                    self._bytes += name.size
                except OSError as exc:
                    self._off(f"cannot write to the spool directory {self.dir.path!r}: {exc}")
                    name = None
        fallback = False
        with self._lock:
            still = self._write_later.pop(key, None) is not None
            if self._write_now.pop(key, None) is not None:
                self._pending_bytes -= len(item.payload)
                still = True
            in_memory = key in self._in_memory
            if name is None:
                if still and in_memory:
                    self._failed.add(key)
                elif still:
                    fallback = True
            elif not still:
                self._job("delete", name, None)  # sent while it was being written
            elif in_memory:
                self._names[key] = name
                self._busy.add(name.name)
            else:
                self._candidate(name)
        if fallback:
            self.handed_back += 1
            self._hand_over(item._replace(spool_key=None))

    def _candidate(self, name: SpoolName) -> None:
        """A file to replay; beyond ``CANDIDATES`` it waits for a scan to find it again (memory
        stays flat however long an outage lasts)."""
        if name.name not in self._candidates.names and not self._candidates.push(name):
            self._more = True

    def _make_room(self, incoming: int) -> bool:
        limits = self.limits
        if self._files + 1 <= limits.max_files and self._bytes + incoming <= limits.max_bytes:
            return True
        if not self._candidates or time.monotonic() - self._scanned_at >= RESCAN_INTERVAL / 10:
            self._scan()
        wall = time.time()
        for name in evictions(
            self._candidates.oldest_first(), self._files, self._bytes, incoming, limits, wall
        ):
            self._evict(name)
        return self._files + 1 <= limits.max_files and self._bytes + incoming <= limits.max_bytes

    def _evict(self, name: SpoolName, too_old: bool = False) -> None:
        self._candidates.remove(name)
        if self.dir.take_and_remove(name):
            self._files -= 1
            self._bytes -= name.size
            self.core.record_lost(Reason.CACHE_OVERFLOW, ERROR)
            if too_old:
                errors.warning(
                    "spool:expired",
                    "Sentry: a spooled event older than spool_max_age (%.0f s) was dropped",
                    self.limits.max_age,
                )
            else:
                errors.warning(
                    "spool:overflow",
                    "Sentry: the spool is full (%d files or %d bytes at most); the oldest event was dropped",
                    self.limits.max_files,
                    self.limits.max_bytes,
                )

    def _scan(self) -> None:
        with self._lock:
            busy = self._busy | self._candidates.names
        try:
            scan = self.dir.scan(self._tag, busy, CANDIDATES)
        except OSError as exc:
            self._off(f"cannot read the spool directory {self.dir.path!r}: {exc}")
            return
        self._scanned_at = time.monotonic()
        self._files, self._bytes = scan.files, scan.size
        for filename in scan.foreign:
            self.dir.move_aside(filename)
            errors.warning("spool:foreign", "Sentry: %r is not a spool file; moved to corrupt/", filename)
        self._more = scan.more
        for name in scan.oldest:
            if not self._candidates.push(name):
                self._more = True
        for name in expired(self._candidates.oldest_first(), self.limits, time.time()):
            self._evict(name, too_old=True)

    def _feed(self) -> None:
        core = self.core
        now = time.monotonic()
        with self._lock:
            if not (self._usable and self._feed_due(now)):
                return
            room = self._room()
        delay = feed_delay(core.hold(now), core.limited_for(ERROR, now), self._random.random())
        if delay > 0:
            self._feed_at = now + delay
            return
        while room > 0 and self._candidates and self._feeding:
            name = self._candidates.pop()
            with self._lock:
                if name.name in self._busy:
                    continue  # in memory, or being deleted
            if name.age(time.time()) > self.limits.max_age:
                self._evict(name, too_old=True)
                continue
            claimed = self.dir.claim(name)
            if claimed is None:
                continue
            fd, data = claimed
            try:
                event_id, payload = read_envelope(data, name)
            except ValueError as exc:
                self.dir.move_aside(name.name, fd)
                self._files -= 1
                self._bytes -= name.size
                errors.warning(
                    "spool:corrupt",
                    "Sentry: spool file %s is not whole (%s); moved to corrupt/",
                    name.name,
                    exc,
                )
                continue
            key = f"k{next(self._keys)}"
            item = EventItem(event_id, payload, spool_key=key)
            with self._lock:
                self._hold(key, len(payload))
                self._names[key] = name
                self._busy.add(name.name)
                if fd is not None:
                    self._fds[key] = fd
            self._hand_over(item)
            room -= 1

    def _hand_over(self, item: EventItem) -> None:
        inner = self._inner()
        if inner is None:
            if item.spool_key is not None:
                self.kept(item, Reason.NETWORK_ERROR)
            return
        inner.submit(item)

    def _off(self, why: str) -> None:
        self._off_until = time.monotonic() + DEGRADED_FOR
        errors.error("spool:off", "Sentry: %s; events are kept in memory only for %.0f s", why, DEGRADED_FOR)

    # -- process lifecycle

    def _after_fork(self) -> None:
        usable = self._usable
        fds = list(self._fds.values())
        self._reset()
        for fd in fds:
            try:
                os.close(fd)  # the parent's claims stay the parent's
            except OSError:
                pass
        if usable:
            try:
                self.dir.after_fork()
                self._usable = True
            except OSError as exc:
                self._off(f"cannot use the spool directory {self.dir.path!r} in this process: {exc}")
        self._ensure_thread()

    def _write_at_exit(self) -> None:
        """At interpreter exit, whichever of the exit hooks runs first: write what is pending, and
        from now on delete and let go of files in the thread that settles their event (the
        spool's thread may not run again). Feeding goes on: what the exit's delivery does not
        take stays on disk."""
        if self._pid != os.getpid() or not self._usable:
            return
        self.flush(1.0)
        with self._lock:
            self._exiting = True
            jobs, self._jobs = self._jobs, []
        for kind, name, fd in jobs:
            self._do_job(kind, name, fd)


class SpooledDispatcher:
    """The client's dispatcher when it has a spool: the transport's own, with the spool beside it."""

    def __init__(self, spool: Spool, inner: Dispatcher) -> None:
        self.spool = spool
        self.inner = inner

    def submit(self, item: EventItem) -> None:
        try:
            now = self.spool.admit(item)
        except Exception:
            errors.error("spool:admit", "Sentry: the spool could not take an event", exc_info=True)
            now = item
        if now is not None:
            self.inner.submit(now)

    def flush(self, timeout: Optional[float] = None) -> Any:
        limit = self.spool.core.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        started = time.monotonic()
        result = self.inner.flush(timeout)
        if loop_idiom(result):  # never block an event loop's thread on the disk
            return result
        handed_back = self.spool.handed_back
        self.spool.flush(max(0.0, limit - (time.monotonic() - started)))
        if self.spool.handed_back != handed_back:
            # Events whose file could not be written went back to the transport meanwhile.
            result = self.inner.flush(max(0.0, limit - (time.monotonic() - started)))
        return result

    def close(self, timeout: Optional[float] = None) -> Any:
        limit = self.spool.core.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        started = time.monotonic()
        result = self.inner.close(timeout)  # the spool goes on feeding it meanwhile
        on_loop = loop_idiom(result)
        self.spool.close(max(0.1, limit - (time.monotonic() - started)), wait=not on_loop)
        return result

    async def close_async(self, timeout: Optional[float] = None) -> None:
        """``client.aclose()`` on the transport's loop: the transport's close, then the spool's
        (which finishes on its own thread)."""
        closer = getattr(self.inner, "close_async", None)
        if closer is None:
            self.close(timeout)
            return
        self.spool.stop_feeding()
        try:
            await closer(timeout)
        finally:
            self.spool.close(0.0, wait=False)

    def __getattr__(self, name: str) -> Any:
        # The transport's own extras (aflush, flush_async, close_async, loop ...).
        return getattr(self.inner, name)


# -- process-wide hooks

_spools: weakref.WeakSet[Spool] = weakref.WeakSet()


def _register(spool: Spool) -> None:
    _spools.add(spool)


def _write_all_at_exit() -> None:
    for spool in list(_spools):
        try:
            spool._write_at_exit()
        except Exception:
            pass


def _after_fork_in_child() -> None:
    # At the fork, not at the child's first capture: the new owner's lock file is disk I/O.
    for spool in list(_spools):
        try:
            if spool._pid != os.getpid():
                spool._after_fork()
        except Exception:
            pass


atexit.register(_write_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
