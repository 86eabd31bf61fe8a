"""raven 6.10's ``GeventedHTTPTransport``: greenlets in the gevent hub send the events.

Works with and without ``gevent.monkey.patch_all()``: sends use gevent's cooperative sockets and
TLS directly, so an unpatched program's hub is never blocked. ``flush``/``close`` block the calling
greenlet only.

How many greenlets send at once: ``max_connections`` (default 4), and never more than
``maximum_outstanding_requests`` (raven 6.10's option, whose default of 100 is still accepted);
one only until the server has answered 2xx. raven 6.10 let 100 requests fly at once, and blocked
the capturing greenlet beyond that; a hundred connections to one Sentry server from one process
hammer it when it struggles and, in a burst, put up to 99 requests on the wire after it has said
429. Four keep-alive connections deliver thousands of events per second to a healthy server, and
events beyond them wait in the bounded queue, never in the caller.

Captures from a real OS thread other than the one that built the transport are handed to that
thread's hub with ``loop.run_callback_threadsafe`` and sent when the hub runs.

DSN options: those of :class:`~raven.transport.http.HTTPTransport` plus ``queue_size``,
``queue_bytes``, ``max_connections`` and ``maximum_outstanding_requests``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, Callable

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import COMMON_OPTIONS
from raven._runtime.connection import Connection
from raven._runtime.dispatch import Dispatcher
from raven._runtime.green import GreenDispatcher, GreenEvent, green_connection_class
from raven.transport._extras import require
from raven.transport.base import AsyncTransport, OnFailure, OnSuccess
from raven.transport.http import _UNSET, HTTPTransport, send_replaced

__all__ = ("GeventedHTTPTransport",)


class _Gevent:
    """The :class:`~raven._runtime.green.GreenLibrary` for gevent, bound to the current thread's hub."""

    def __init__(self) -> None:
        gevent = require("gevent", "gevent")
        monkey = require("gevent.monkey", "gevent")
        self._gevent = gevent
        self._event_class = require("gevent.event", "gevent").Event
        self.create_connection: Callable[..., Any] = require("gevent.socket", "gevent").create_connection
        self.ssl_context_class: type[ssl.SSLContext] = require("gevent.ssl", "gevent").SSLContext
        # The real thread id and lock, also after patch_all (which makes them greenlet-level).
        self._get_ident: Callable[[], int] = monkey.get_original("_thread", "get_ident")
        self._allocate_lock: Callable[[], Any] = monkey.get_original("_thread", "allocate_lock")
        self._thread = self._get_ident()
        self._hub = gevent.get_hub()

    def spawn(self, function: Callable[[], None]) -> None:
        self._gevent.spawn(function)

    def spawn_greenlet(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a new greenlet; the greenlet (to ``link`` a callback to it)."""
        return self._gevent.spawn(function, *args)

    def spawn_later(self, delay: float, function: Callable[[], None]) -> None:
        self._gevent.spawn_later(delay, function)

    def new_event(self) -> GreenEvent:
        event: GreenEvent = self._event_class()
        return event

    def in_hub_thread(self) -> bool:
        return bool(self._get_ident() == self._thread)

    def call_threadsafe(self, function: Callable[..., None], *args: Any) -> None:
        self._hub.loop.run_callback_threadsafe(function, *args)

    def real_lock(self) -> Any:
        return self._allocate_lock()


class GeventedHTTPTransport(AsyncTransport, HTTPTransport):
    """Sends from greenlets of the gevent hub; ``Client.capture*`` never waits on the network."""

    scheme = ["gevent+http", "gevent+https"]
    accepted_options: frozenset[str] = COMMON_OPTIONS | {
        "queue_size",
        "queue_bytes",
        "max_connections",
        "maximum_outstanding_requests",
    }

    def __init__(self, maximum_outstanding_requests: Any = _UNSET, *args: Any, **kwargs: Any) -> None:
        self._library = _Gevent()
        self._connection_class = green_connection_class(self._library)
        super().__init__(*args, maximum_outstanding_requests=maximum_outstanding_requests, **kwargs)
        self.maximum_outstanding_requests = self.options.maximum_outstanding_requests

    def new_connection(self) -> Connection:
        """A keep-alive connection on gevent's cooperative sockets (one per send greenlet)."""
        return self._connection_class(self.options)

    def open_dispatcher(self, core: DeliveryCore) -> Dispatcher:
        """The green dispatcher; raven 6.10's path (``async_send``, one greenlet per event, the
        ``_done`` callback) when a subclass or a test replaced ``send`` or ``async_send``."""
        if send_replaced(self) or type(self).async_send is not GeventedHTTPTransport.async_send:
            from raven._runtime.dispatchers import CallbackDispatcher

            return CallbackDispatcher(self, core)
        limit = min(self.options.max_connections, self.options.maximum_outstanding_requests)
        return GreenDispatcher(core, self.options, self._library, self.new_connection, limit)

    # -- raven 6.10's API, for code that calls or overrides it

    def async_send(
        self, url: str, data: bytes, headers: Mapping[str, str], success_cb: OnSuccess, failure_cb: OnFailure
    ) -> None:
        """``send`` in a new greenlet of the transport's hub; ``_done`` calls back when it ends."""

        def start() -> None:
            greenlet = self._library.spawn_greenlet(self.send, url, data, headers)
            greenlet.link(lambda done: self._done(done, success_cb, failure_cb))

        if self._library.in_hub_thread():
            start()
        else:
            self._library.call_threadsafe(start)

    def _done(self, greenlet: Any, success_cb: OnSuccess, failure_cb: OnFailure, *args: Any) -> None:
        if greenlet.successful():
            success_cb()
        else:
            failure_cb(greenlet.exception)
