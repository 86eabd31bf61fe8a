"""The synchronous stdlib HTTP transport (raven 6.10's ``HTTPTransport``), on keep-alive connections.

``send`` blocks the calling thread for at most about ``timeout`` per attempt. It returns the
:class:`~raven._delivery.model.Reply` for a 2xx answer and raises otherwise, as raven 6.10 did:
``RateLimited`` for 429, ``APIError`` for any other status (both carry the reply as ``.reply``),
:class:`TransportNetworkError` (with ``.failure``) when no HTTP answer came.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any

from raven._delivery.dsn import COMMON_OPTIONS, TransportOptions
from raven._delivery.model import Failure, Reply, Request
from raven._runtime.connection import Connection, tls_context
from raven.exceptions import APIError, InvalidDsn, RateLimited
from raven.transport.base import Transport
from raven.utils.http import urlopen  # raven 6.10 import path of the one-request helper

__all__ = ("HTTPTransport", "TransportNetworkError", "urlopen")

#: Idle connections an ``HTTPTransport`` keeps for reuse by concurrent callers.
MAX_IDLE_CONNECTIONS = 4

_UNSET: Any = object()


class TransportNetworkError(OSError):
    """No HTTP reply: the connection failed, timed out, or broke. ``failure`` says how."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(
            f"{failure.kind.value} error: {failure.detail}" if failure.detail else failure.kind.value
        )
        self.failure = failure


def _retry_after(reply: Reply) -> float:
    """``Retry-After`` in seconds as raven 6.10 reported it (0 when absent or an HTTP date)."""
    try:
        return max(0.0, float(reply.headers.get("retry-after", "")))
    except ValueError:
        return 0.0


def raise_for_reply(reply: Reply) -> Reply:
    """Return a 2xx reply; raise ``RateLimited`` / ``APIError`` (with ``.reply``) for the others."""
    if 200 <= reply.status < 300:
        return reply
    from raven._delivery.decisions import server_message

    message = server_message(reply) or f"HTTP {reply.status}"
    exc: APIError
    if reply.status == 429:
        exc = RateLimited(message, _retry_after(reply))
    else:
        exc = APIError(message, reply.status)
    exc.reply = reply  # type: ignore[attr-defined]
    raise exc


def parse_options(cls: type, given: Mapping[str, Any]) -> TransportOptions:
    """Validate a transport's keyword options against its ``accepted_options`` (InvalidDsn)."""
    # raven 6.10's constructors took None for "the default" (``HTTPTransport(timeout=None)``).
    values = {name: value for name, value in given.items() if value is not _UNSET and value is not None}
    accepted = getattr(cls, "accepted_options", COMMON_OPTIONS)
    options = TransportOptions.parse(values, accepted)
    if options.verify_ssl and options.ca_certs:
        try:
            tls_context(options)  # a file that is not a PEM bundle: say so now, not at the first send
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise InvalidDsn(
                f"invalid value {options.ca_certs!r} for transport option 'ca_certs' ({exc}); "
                "expected the path of a PEM bundle"
            ) from None
    return options


class HTTPTransport(Transport):
    """Blocking POSTs over persistent connections (one per concurrent caller, a few kept idle).

    DSN options: ``timeout`` (seconds, default 1), ``verify_ssl`` (default on), ``ca_certs``
    (default: certifi's bundle), ``protocol`` (``envelope`` or ``store``), ``shutdown_timeout``.
    """

    scheme = ["sync+http", "sync+https"]
    accepts_envelopes = True
    #: The DSN options this transport takes (validated at construction: InvalidDsn names the option).
    accepted_options: frozenset[str] = COMMON_OPTIONS

    def __init__(
        self,
        timeout: Any = _UNSET,
        verify_ssl: Any = _UNSET,
        ca_certs: Any = _UNSET,
        **options: Any,
    ) -> None:
        self.options = parse_options(
            type(self), {"timeout": timeout, "verify_ssl": verify_ssl, "ca_certs": ca_certs, **options}
        )
        # raven 6.10's attributes, for subclasses that read them.
        self.timeout = self.options.timeout
        self.verify_ssl = self.options.verify_ssl
        self.ca_certs = self.options.ca_certs
        self._pool_lock = threading.Lock()
        self._idle: list[Connection] = []
        self._pid = os.getpid()

    def new_connection(self) -> Connection:
        """A connection with this transport's options (one per sender thread)."""
        return Connection(self.options)

    def send(self, url: str, data: bytes, headers: Mapping[str, str]) -> Reply:
        """POST ``data`` to ``url``: the reply if 2xx, else raises (see the module docstring)."""
        outcome = self.post(Request(url, dict(headers), data, None))
        if isinstance(outcome, Failure):
            raise TransportNetworkError(outcome)
        return raise_for_reply(outcome)

    def post(self, request: Request) -> Any:
        """POST ``request`` on an idle pooled connection (or a new one): a Reply or a Failure."""
        connection = self._take()
        try:
            return connection.post(request)
        finally:
            self._give(connection)

    def close(self) -> None:
        """Close the idle connections (a later send opens a new one)."""
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> Connection:
        with self._pool_lock:
            if self._pid != os.getpid():
                # A forked child: the pooled sockets are the parent's. Forget them, never use them.
                for connection in self._idle:
                    connection.detach()
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        return self.new_connection()

    def _give(self, connection: Connection) -> None:
        with self._pool_lock:
            if self._pid == os.getpid() and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()


#: ``HTTPTransport.send`` as this module defines it, to tell when a subclass or a test replaced it.
_BUILTIN_SEND = HTTPTransport.send


def send_replaced(transport: Any) -> bool:
    """True when ``transport``'s class (or a patch of ``HTTPTransport.send``) replaced the blocking
    ``send``: raven 6.10's queueing transports called it for every event, so it must be called."""
    return getattr(type(transport), "send", _BUILTIN_SEND) is not _BUILTIN_SEND
