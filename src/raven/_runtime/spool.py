"""The durable spool: events on disk, so that an outage, a restart or ``kill -9`` loses none.

Opt-in with ``?spool_dir=/path`` in the DSN (or ``Client(spool_dir=...)``), for every transport.
:class:`SpooledDispatcher` sits between the client and the transport's own dispatcher (worker,
loop pump, callback or synchronous): delivery is the same, the spool only keeps a copy.

* **Capture.** The caller's thread never touches the disk: :meth:`Spool.admit` tags the event with
  a spool key, queues it for the spool's thread, and hands it to the transport at once while fewer
  than ``MEMORY_EVENTS`` spooled events are in memory; beyond that it waits on disk only, so memory
  stays flat during a long outage. The spool's thread writes each event as a Sentry envelope
  (``raven._delivery.spool``), usually within milliseconds of the capture; an event the server
  took before its turn came is never written.
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
* **Close and exit.** ``close(timeout)`` delivers for at most ``timeout``; what is left stays on
  disk for the next start. At interpreter exit the events not yet written are written.
* **Fork.** The child forgets the parent's events and becomes an owner of its own.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import os
import random
import re
import threading
import time
import weakref
from dataclasses import replace
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

#: Spooled events in memory at most (handed to the transport and not yet settled).
MEMORY_EVENTS = 100
#: ... and their bytes at most.
MEMORY_BYTES = 1024 * 1024
#: File names of sendable files kept in memory at once (the oldest).
CANDIDATES = 512
#: Seconds between two looks for files left by other processes (when idle).
RESCAN_INTERVAL = 30.0
#: Seconds the spool stays off after the directory failed.
DEGRADED_FOR = 30.0
#: Leftover temporary files older than this (seconds) are removed.
STALE_TMP = 3600.0

_ID = re.compile(r"[^0-9A-Za-z]")


def _name_id(event_id: str) -> str:
    return _ID.sub("", event_id)[:64] or "0"


class Spool:
    """The spool of one client (``DeliveryCore.spool``); its thread writes, deletes and replays."""

    def __init__(self, core: DeliveryCore, inner: Callable[[], Optional[Dispatcher]]) -> None:
        options = core.options
        assert options.spool_dir is not None
        self.core = core
        self.limits = options.spool_limits()
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
        self._to_write: dict[str, EventItem] = {}
        self._writing = 0
        self._in_memory: dict[str, int] = {}  # key -> payload bytes, handed to the transport
        self._memory_bytes = 0
        self._names: dict[str, SpoolName] = {}  # key -> its file, for events in memory
        self._fds: dict[str, int] = {}  # key -> lock of a file taken from a process that is gone
        self._failed: set[str] = set()  # in memory, and its file could not be written
        self._jobs: list[tuple[str, SpoolName, Optional[int]]] = []  # ("delete"|"release", file, fd)
        self._candidates: list[SpoolName] = []  # a heap: the oldest files to replay
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
        tagged = replace(item, spool_key=key)
        size = len(item.payload)
        reachable = self.core.hold(time.monotonic()) <= 0
        with self._lock:
            self._to_write[key] = tagged
            now_too = (
                reachable
                and len(self._in_memory) < MEMORY_EVENTS
                and self._memory_bytes + size <= MEMORY_BYTES
            )
            if now_too:
                self._hold(key, size)
            self._wake.notify()
        return tagged if now_too else None

    def flush(self, timeout: float) -> bool:
        """Wait until every event admitted so far is on disk (or settled)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._to_write or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._quiet.wait(left)
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
            if self._to_write.pop(key, None) is not None:
                return  # settled before it was written: it never will be
            name = self._names.pop(key, None)
            if name is not None:
                self._job("delete", name, self._fds.pop(key, None))

    def kept(self, item: EventItem, reason: Reason) -> None:
        key = item.spool_key
        if key is None:
            return
        with self._lock:
            self._let_go(key)
            name = self._names.pop(key, None)
            if name is not None:
                self._job("release", name, self._fds.pop(key, None))

    def holds(self, item: EventItem) -> bool:
        return item.spool_key not in self._failed

    def _job(self, kind: str, name: SpoolName, fd: Optional[int]) -> None:
        """With the lock held: a file to delete or let go of, by the thread (or now, if it is
        gone: a send that ends after a close)."""
        if self._thread is not None:
            self._jobs.append((kind, name, fd))
            self._wake.notify()
        elif kind == "delete":
            self.dir.remove(name, fd)
        else:
            release(fd)

    def _hold(self, key: str, size: int) -> None:
        self._in_memory[key] = size
        self._memory_bytes += size

    def _let_go(self, key: str) -> None:
        size = self._in_memory.pop(key, None)
        if size is not None:
            self._memory_bytes -= size
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
            if self._usable:
                self.dir.stale_tmp(STALE_TMP, time.time())
            while True:
                if not self._usable and not self._closed and time.monotonic() >= self._off_until:
                    self._open()
                with self._lock:
                    while not self._due():
                        self._wake.wait(self._sleep_for())
                    keys = list(self._to_write)
                    jobs, self._jobs = self._jobs, []
                    closed = self._closed
                    self._writing = len(keys)
                for key in keys:
                    self._write(key)
                with self._lock:
                    self._writing = 0
                    self._quiet.notify_all()
                for kind, name, fd in jobs:
                    if kind == "delete":
                        if self.dir.remove(name, fd):
                            self._files -= 1
                            self._bytes -= name.size
                    else:
                        release(fd)
                        self._candidate(name)
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

    def _due(self) -> bool:
        """With the lock held: whether the thread has something to do now."""
        if self._to_write or self._jobs or self._closed:
            return True
        now = time.monotonic()
        if not self._usable:
            return now >= self._off_until
        return self._scan_due(now) or self._feed_due(now)

    def _scan_due(self, now: float) -> bool:
        """Every ``RESCAN_INTERVAL`` (files of processes that are gone, expired files), and soon
        when the candidates ran out with more files on disk."""
        since = now - self._scanned_at
        return since >= RESCAN_INTERVAL or (
            not self._candidates and self._more and since >= RESCAN_INTERVAL / 10
        )

    def _feed_due(self, now: float) -> bool:
        return self._feeding and now >= self._feed_at and bool(self._candidates) and self._room() > 0

    def _sleep_for(self) -> float:
        now = time.monotonic()
        if not self._usable:
            return max(0.01, self._off_until - now)
        wake = self._scanned_at + (
            RESCAN_INTERVAL / 10 if self._more and not self._candidates else RESCAN_INTERVAL
        )
        if self._candidates and self._feed_at > now:
            wake = min(wake, self._feed_at)
        return max(0.01, wake - now)

    def _room(self) -> int:
        width = self.core.width(self.core.options.max_connections)
        return min(feed_room(len(self._in_memory), width), MEMORY_EVENTS - len(self._in_memory))

    def _write(self, key: str) -> None:
        with self._lock:
            item = self._to_write.get(key)
        if item is None:
            return  # settled meanwhile
        name: Optional[SpoolName] = None
        if self._usable and time.monotonic() >= self._off_until:
            data = self.core.spooled_envelope(item)
            name = spool_name(time.time(), self._tag, self.dir.owner, _name_id(item.event_id), len(data))
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
            still = self._to_write.pop(key, None) is not None
            in_memory = key in self._in_memory
            if name is None:
                if still and in_memory:
                    self._failed.add(key)
                elif still:
                    fallback = True
            elif not still:
                self._jobs.append(("delete", name, None))  # sent while it was being written
            elif in_memory:
                self._names[key] = name
            else:
                self._candidate(name)
        if fallback:
            self._hand_over(replace(item, spool_key=None))

    def _candidate(self, name: SpoolName) -> None:
        """A file to replay; beyond ``CANDIDATES`` it waits for a scan to find it again (memory
        stays flat however long an outage lasts)."""
        if len(self._candidates) < CANDIDATES:
            heapq.heappush(self._candidates, name)
        else:
            self._more = True

    def _make_room(self, incoming: int) -> bool:
        limits = self.limits
        if self._files + 1 <= limits.max_files and self._bytes + incoming <= limits.max_bytes:
            return True
        if not self._candidates or time.monotonic() - self._scanned_at >= RESCAN_INTERVAL / 10:
            self._scan()
        wall = time.time()
        for name in evictions(sorted(self._candidates), self._files, self._bytes, incoming, limits, wall):
            self._evict(name)
        return self._files + 1 <= limits.max_files and self._bytes + incoming <= limits.max_bytes

    def _evict(self, name: SpoolName, too_old: bool = False) -> None:
        try:
            self._candidates.remove(name)
            heapq.heapify(self._candidates)
        except ValueError:
            pass
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
            busy = {name.name for name in self._names.values()}
        busy.update(name.name for name in self._candidates)
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
        for name in scan.oldest:
            heapq.heappush(self._candidates, name)
        while len(self._candidates) > CANDIDATES:
            self._candidates.remove(max(self._candidates))
            heapq.heapify(self._candidates)
        self._more = scan.more
        for name in expired(sorted(self._candidates), self.limits, time.time()):
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
            name = heapq.heappop(self._candidates)
            if name.age(time.time()) > self.limits.max_age:
                self._evict(name, too_old=True)
                continue
            claimed = self.dir.claim(name)
            if claimed is None:
                continue
            fd, data = claimed
            try:
                event_id, payload = read_envelope(data)
                if _name_id(event_id) != name.event_id:
                    raise ValueError("its event_id is not the one its name says")
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
        # Feeding goes on: what the exit's delivery does not take stays on disk.
        if self._pid == os.getpid() and self._usable:
            self.flush(1.0)


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
        if not loop_idiom(result):  # never block an event loop's thread on the disk
            self.spool.flush(max(0.0, limit - (time.monotonic() - started)))
        return result

    def close(self, timeout: Optional[float] = None) -> Any:
        limit = self.spool.core.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        started = time.monotonic()
        self.spool.stop_feeding()
        result = self.inner.close(timeout)
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


atexit.register(_write_all_at_exit)
