"""Delivery on green threads (gevent greenlets, eventlet green threads): shared plumbing.

A :class:`GreenLibrary` says how one library spawns, waits and makes cooperative sockets; the
:class:`GreenDispatcher` drives a :class:`~raven._runtime.pump.Pump` with it, so the delivery
rules stay in the pump and the core. Sends use the stdlib :class:`~raven._runtime.connection.Connection`
logic over the library's cooperative sockets and TLS, so they never block the hub even when the
application did not monkeypatch.

Threads: the dispatcher belongs to the hub of the OS thread that built the transport (normally
the main thread). A capture or flush from another real OS thread is handed to that hub through
the library's thread-safe wake-up (:meth:`GreenLibrary.call_threadsafe`); it is delivered as soon
as the hub runs. After monkeypatching, "threads" are greenlets of the same hub and need no hand-off.
"""

from __future__ import annotations

import atexit
import http.client
import os
import ssl
import time
import weakref
from typing import Any, Callable, Optional, Protocol

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import TransportOptions
from raven._delivery.model import EventItem
from raven._runtime.connection import Connection, _HTTPConnection, _HTTPSConnection
from raven._runtime.logs import errors
from raven._runtime.pump import Pump

__all__ = ("GreenDispatcher", "GreenEvent", "GreenLibrary", "green_connection_class")

#: A close from a foreign OS thread waits this long for the hub to count what is left.
SHUT_WAIT = 1.0


class GreenEvent(Protocol):
    def set(self) -> None: ...

    def wait(self, timeout: Optional[float]) -> bool: ...


class GreenLibrary(Protocol):
    """What the dispatcher needs from gevent or eventlet."""

    #: ``socket.create_connection`` returning a cooperative socket.
    create_connection: Callable[..., Any]
    #: An ``ssl.SSLContext`` subclass whose ``wrap_socket`` returns a cooperative TLS socket.
    ssl_context_class: type[ssl.SSLContext]

    def spawn(self, function: Callable[[], None]) -> None:
        """Start ``function`` on a new green thread of the hub (called on the hub's OS thread)."""
        ...

    def spawn_later(self, delay: float, function: Callable[[], None]) -> None:
        """Start ``function`` on a new green thread after ``delay`` seconds (on the hub's thread)."""
        ...

    def new_event(self) -> GreenEvent:
        """An event a green thread can wait on (blocking only itself)."""
        ...

    def in_hub_thread(self) -> bool:
        """True on the OS thread whose hub owns the dispatcher."""
        ...

    def call_threadsafe(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` soon on the hub's thread; callable from any OS thread."""
        ...

    def real_lock(self) -> Any:
        """An OS-level lock (not a green one), for a foreign thread waiting on the hub."""
        ...


_contexts: dict[tuple[type[ssl.SSLContext], Optional[str], bool], ssl.SSLContext] = {}


def _green_tls_context(
    context_class: type[ssl.SSLContext], cafile: Optional[str], verify: bool
) -> ssl.SSLContext:
    """The same policy as ``connection.tls_context``, built on the library's context class."""
    key = (context_class, cafile, verify)
    context = _contexts.get(key)
    if context is None:
        context = context_class(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            context.load_verify_locations(cafile=cafile)
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _contexts[key] = context  # shared: contexts are costly to load
    return context


def green_connection_class(library: GreenLibrary) -> type[Connection]:
    """A :class:`Connection` subclass whose sockets and TLS are ``library``'s cooperative ones."""
    create_connection = library.create_connection
    context_class = library.ssl_context_class

    class GreenHTTPConnection(_HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    class GreenHTTPSConnection(_HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    class GreenConnection(Connection):
        http_class: type[http.client.HTTPConnection] = GreenHTTPConnection
        https_class: type[http.client.HTTPSConnection] = GreenHTTPSConnection

        def make_tls_context(self) -> ssl.SSLContext:
            options = self.options
            if not options.verify_ssl:
                return _green_tls_context(context_class, None, False)
            return _green_tls_context(context_class, options.ca_bundle(), True)

    return GreenConnection


class GreenDispatcher:
    """Queues events in a :class:`Pump`; at most ``limit`` green threads send them (one until
    the server answers 2xx: ``DeliveryCore.width``).

    Each send task holds one keep-alive connection; between bursts up to ``limit`` idle ones are
    kept for reuse, so at most ``limit`` sockets are open at any time.

    ``submit`` never waits on the network. ``flush`` / ``close`` block the calling green thread
    only (other greenlets, including the senders, keep running); from a foreign OS thread they
    block that thread. When ``close`` returns, every event is sent or counted lost.
    """

    def __init__(
        self,
        core: DeliveryCore,
        options: TransportOptions,
        library: GreenLibrary,
        connection_factory: Callable[[], Connection],
        limit: int,
    ) -> None:
        self.pump = Pump(core, options, limit)
        self.options = options
        self._library = library
        self._new_connection = connection_factory
        self._idle: list[Connection] = []
        self.pump.start_task = lambda: library.spawn(self._send)
        self.pump.resume_later = lambda delay: library.spawn_later(delay, self._resume)
        self._pid = os.getpid()
        self._closed = False
        _live.add(self)

    def submit(self, item: EventItem) -> None:
        try:
            if self._library.in_hub_thread():
                self._offer(item)
            else:
                self._library.call_threadsafe(self._offer, item)
        except Exception:
            errors.error("green:submit", "Sentry: queueing an event failed", exc_info=True)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every submitted event is settled; False after ``timeout`` (default
        ``shutdown_timeout``)."""
        try:
            limit = self.options.shutdown_timeout if timeout is None else max(0.0, float(timeout))
            if self._library.in_hub_thread():
                self._kick()
                if self.pump.unsettled == 0:
                    return True
                event = self._library.new_event()
                self.pump.when_idle(event.set)
                if event.wait(limit):
                    return True
                self.pump.forget(event.set)
                return False
            # A foreign OS thread: the hub's thread releases a real lock once idle.
            done = self._library.real_lock()
            done.acquire()
            self._library.call_threadsafe(self._kick_then, done.release)
            return bool(done.acquire(True, limit))
        except Exception:
            errors.error("green:flush", "Sentry: flush failed", exc_info=True)
            return False

    def close(self, timeout: Optional[float] = None) -> None:
        """Deliver what is queued (at most ``timeout``); then, before returning, count every event
        still queued or in flight as lost, and stop."""
        self._close(timeout, "close")

    def _close(self, timeout: Optional[float], when: str) -> None:
        if self._closed:
            return
        started = time.monotonic()
        self.flush(timeout)
        self._closed = True
        _live.discard(self)
        waited = time.monotonic() - started
        try:
            if self._library.in_hub_thread():
                self._shut(waited, when)
                return
            # A foreign OS thread: the hub counts what is left at its next turn; wait for that.
            done = self._library.real_lock()
            done.acquire()
            self._library.call_threadsafe(self._shut, waited, when, done.release)
            done.acquire(True, SHUT_WAIT)
        except Exception:
            errors.error("green:close", "Sentry: close failed", exc_info=True)

    # -- on the hub's thread

    def _shut(self, waited: float, when: str, then: Optional[Callable[[], None]] = None) -> None:
        try:
            self.pump.close(waited, when)
            idle, self._idle = self._idle, []
            for connection in idle:
                connection.close()
        finally:
            if then is not None:
                then()

    def _offer(self, item: EventItem) -> None:
        try:
            self.pump.offer(item)
        except Exception:
            errors.error("green:offer", "Sentry: queueing an event failed", exc_info=True)

    def _resume(self) -> None:
        """The pause after a failed connection is over: send the queued events again."""
        try:
            self.pump.resume()
        except Exception:
            errors.error("green:resume", "Sentry: resuming delivery failed", exc_info=True)

    def _kick(self) -> None:
        """A flush: the pump may start a send task for the pending client report alone."""
        self.pump.kick()

    def _kick_then(self, idle: Callable[[], None]) -> None:
        """A flush from a foreign thread, on the hub: kick, then ``idle()`` once all is settled."""
        try:
            self._kick()
        finally:
            self.pump.when_idle(idle)

    def _send(self) -> None:
        """One send task: POST requests from the pump until it has none left."""
        pump = self.pump
        if self._pid != os.getpid():
            # A forked child: the idle sockets are the parent's. Forget them, never use them.
            for idle in self._idle:
                idle.detach()
            self._idle = []
            self._pid = os.getpid()
        connection = self._idle.pop() if self._idle else self._new_connection()
        try:
            request = pump.take()
            while request is not None:
                try:
                    outcome = connection.post(request)  # never raises, but the greenlet may be killed
                except BaseException:
                    pump.abandon(request)
                    raise
                request = pump.finish(request, outcome)
        except Exception:
            errors.error("green:send", "Sentry: a send task failed", exc_info=True)
        finally:
            if not self._closed and len(self._idle) < self.pump.limit:
                self._idle.append(connection)
            else:
                connection.close()

    def _flush_at_exit(self, timeout: float) -> None:
        if not self._closed and self._library.in_hub_thread():
            self._close(timeout, "exit")


# -- at interpreter exit, while the hub can still run: deliver within shutdown_timeout

_live: weakref.WeakSet[GreenDispatcher] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    dispatchers = list(_live)
    if not dispatchers:
        return
    deadline = time.monotonic() + max(d.options.shutdown_timeout for d in dispatchers)
    for dispatcher in dispatchers:
        try:
            remaining = max(0.0, deadline - time.monotonic())
            dispatcher._flush_at_exit(min(dispatcher.options.shutdown_timeout, remaining))
        except Exception:
            pass


atexit.register(_flush_all_at_exit)
