"""raven 6.10's ``EventletHTTPTransport``: green threads in the eventlet hub send the events.

Unlike raven 6.10 it honours ``timeout``, ``verify_ssl`` and ``ca_certs``, and reports failures
(counted by reason in ``Client.delivery_stats()``, logged on ``sentry.errors``) instead of
swallowing them. Sends use eventlet's green sockets and TLS, so the hub is never blocked, with or
without ``eventlet.monkey_patch()``. At most ``max_connections`` (default 4), and never more than
``pool_size`` (raven 6.10's option, which it ignored; default 100), green threads send at once,
one only until the server has answered 2xx (see :mod:`raven.transport.gevent` for why not 100);
the others wait in the bounded queue.

Captures from a real OS thread other than the one that built the transport are handed to that
thread's hub through a pipe the hub watches, and sent when the hub runs.

DSN options: those of :class:`~raven.transport.http.HTTPTransport` plus ``queue_size``,
``queue_bytes``, ``max_connections`` and ``pool_size``.
"""

from __future__ import annotations

import ssl
import types
from collections import deque
from typing import Any, Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import COMMON_OPTIONS
from raven._runtime.connection import Connection
from raven._runtime.dispatch import Dispatcher
from raven._runtime.green import GreenDispatcher, GreenEvent, green_connection_class
from raven.exceptions import InvalidDsn
from raven.transport._extras import require
from raven.transport.http import _UNSET, HTTPTransport

__all__ = ("EventletHTTPTransport",)

_DEFAULT_POOL_SIZE = 100


class _Event:
    """A settable-once event a green thread waits on with a timeout (eventlet's Event + Timeout)."""

    def __init__(self, eventlet: types.ModuleType) -> None:
        self._eventlet = eventlet
        self._event = require("eventlet.event", "eventlet").Event()

    def set(self) -> None:
        if not self._event.ready():
            self._event.send(True)

    def wait(self, timeout: Optional[float]) -> bool:
        if self._event.ready():
            return True
        with self._eventlet.Timeout(timeout, False):
            self._event.wait()
        return bool(self._event.ready())


class _Waker:
    """Runs callbacks from other OS threads on the hub: a deque plus a pipe the hub watches."""

    def __init__(self, eventlet: types.ModuleType) -> None:
        patcher = require("eventlet.patcher", "eventlet")
        os = patcher.original("os")
        thread = patcher.original("_thread")
        self._os = os
        self._trampoline = require("eventlet.hubs", "eventlet").trampoline
        self._lock = thread.allocate_lock()
        self._calls: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        eventlet.spawn_n(self._run)

    def call(self, function: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._calls.append((function, args))
        try:
            self._os.write(self._write_fd, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending

    def _run(self) -> None:
        while True:
            self._trampoline(self._read_fd, read=True)
            try:
                while self._os.read(self._read_fd, 4096):
                    pass
            except BlockingIOError:
                pass
            while True:
                with self._lock:
                    if not self._calls:
                        break
                    function, args = self._calls.popleft()
                try:
                    function(*args)
                except Exception:  # the callbacks log their own errors; never stop waking
                    pass


_wakers: dict[int, _Waker] = {}


class _Eventlet:
    """The :class:`~raven._runtime.green.GreenLibrary` for eventlet, bound to the current thread's hub."""

    def __init__(self) -> None:
        self._eventlet = require("eventlet", "eventlet")
        self.create_connection: Callable[..., Any] = require(
            "eventlet.green.socket", "eventlet"
        ).create_connection
        self.ssl_context_class: type[ssl.SSLContext] = require(
            "eventlet.green.ssl", "eventlet"
        ).GreenSSLContext
        # The real thread id and lock, also after monkey_patch (which makes them green).
        thread = require("eventlet.patcher", "eventlet").original("_thread")
        self._get_ident: Callable[[], int] = thread.get_ident
        self._allocate_lock: Callable[[], Any] = thread.allocate_lock
        self._thread = self._get_ident()
        self._waker: Optional[_Waker] = None

    def spawn(self, function: Callable[[], None]) -> None:
        self._eventlet.spawn_n(function)

    def spawn_later(self, delay: float, function: Callable[[], None]) -> None:
        self._eventlet.spawn_after(delay, function)

    def new_event(self) -> GreenEvent:
        return _Event(self._eventlet)

    def in_hub_thread(self) -> bool:
        return bool(self._get_ident() == self._thread)

    def call_threadsafe(self, function: Callable[..., None], *args: Any) -> None:
        waker = self._waker
        if waker is None:
            raise RuntimeError("the transport was not built on the thread of an eventlet hub")
        waker.call(function, *args)

    def real_lock(self) -> Any:
        return self._allocate_lock()

    def ensure_waker(self) -> None:
        """Start the hub's hand-off green thread (on the hub's thread; one per hub)."""
        if self._waker is None and self.in_hub_thread():
            waker = _wakers.get(self._thread)
            if waker is None:
                waker = _wakers[self._thread] = _Waker(self._eventlet)
            self._waker = waker


def _pool_size(value: Any) -> int:
    if value is _UNSET or value is None:
        return _DEFAULT_POOL_SIZE
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        number = -1
    if number < 1:
        raise InvalidDsn(
            f"invalid value {value!r} for transport option 'pool_size'; expected a whole number >= 1"
        )
    return number


class EventletHTTPTransport(HTTPTransport):
    """Sends from green threads of the eventlet hub; ``Client.capture*`` never waits on the network."""

    scheme = ["eventlet+http", "eventlet+https"]
    accepted_options: frozenset[str] = COMMON_OPTIONS | {"queue_size", "queue_bytes", "max_connections"}

    def __init__(self, pool_size: Any = _UNSET, *args: Any, **kwargs: Any) -> None:
        self._library = _Eventlet()
        self._connection_class = green_connection_class(self._library)
        super().__init__(*args, **kwargs)
        self.pool_size = _pool_size(pool_size)
        self._library.ensure_waker()

    def new_connection(self) -> Connection:
        """A keep-alive connection on eventlet's green sockets (one per send green thread)."""
        return self._connection_class(self.options)

    def open_dispatcher(self, core: DeliveryCore) -> Dispatcher:
        limit = min(self.options.max_connections, self.pool_size)
        return GreenDispatcher(core, self.options, self._library, self.new_connection, limit)
