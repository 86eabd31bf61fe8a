"""One persistent keep-alive HTTP(S) connection on the standard library's ``http.client``.

:meth:`Connection.post` sends one :class:`~raven._delivery.model.Request` and returns a
:class:`~raven._delivery.model.Reply` (any status) or a classified
:class:`~raven._delivery.model.Failure`; it never raises. Every exception is classified in one
place, :func:`classify`.

TLS: ``ssl.create_default_context`` with the configured CA bundle, SNI and hostname checking
(``verify_ssl=0`` turns both off). Proxies: the ``https_proxy`` / ``http_proxy`` / ``no_proxy``
environment variables are honoured, as raven 6.10 (urllib) did.

``timeout`` bounds the whole send: name resolution (:mod:`raven._runtime.resolve`), connecting,
the TLS handshake, sending and waiting for the reply share one deadline; each step gets what is
left of it. (A server that trickles its reply a byte at a time can stretch the last read, which
the socket bounds only per read.)
"""

from __future__ import annotations

import base64
import functools
import http.client
import select
import socket
import ssl
import time
import urllib.request
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from raven._delivery.dsn import TransportOptions
from raven._delivery.model import Failure, FailureKind, Outcome, Reply, Request
from raven._runtime import resolve

#: Response bodies are only read for diagnostics; beyond this the connection is closed instead.
MAX_REPLY_BODY = 64 * 1024

#: Errors that mean "the server closed this idle keep-alive connection": resend once, on a new one.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

Phase = str  # "connect" (TCP, proxy tunnel, TLS handshake) | "exchange" (send, read the reply)

# The one exception table: (exception type, kind when connecting, kind during the exchange).
# First match wins, so subclasses come before their bases (SSLError and timeouts are OSErrors).
_FAILURE_TABLE: tuple[tuple[type[BaseException], FailureKind, FailureKind], ...] = (
    (ssl.CertificateError, FailureKind.TLS, FailureKind.TLS),
    (ssl.SSLError, FailureKind.TLS, FailureKind.TLS),
    (socket.timeout, FailureKind.TIMEOUT, FailureKind.TIMEOUT),
    (TimeoutError, FailureKind.TIMEOUT, FailureKind.TIMEOUT),
    (socket.gaierror, FailureKind.CONNECT, FailureKind.CONNECT),
    (ConnectionRefusedError, FailureKind.CONNECT, FailureKind.CONNECT),
    (http.client.HTTPException, FailureKind.CONNECT, FailureKind.READ),  # bad status line, tunnel refused
    (OSError, FailureKind.CONNECT, FailureKind.READ),  # reset, broken pipe, unreachable ...
    (ValueError, FailureKind.OTHER, FailureKind.OTHER),  # invalid URL or header
)


def classify(exc: BaseException, phase: Phase) -> Failure:
    """Map any exception raised while connecting or exchanging to a :class:`Failure`."""
    for exc_type, when_connecting, when_exchanging in _FAILURE_TABLE:
        if isinstance(exc, exc_type):
            kind = when_connecting if phase == "connect" else when_exchanging
            break
    else:
        kind = FailureKind.OTHER
    detail = str(exc) or type(exc).__name__
    return Failure(kind, f"{type(exc).__name__}: {detail}" if detail != type(exc).__name__ else detail)


@functools.lru_cache(maxsize=16)
def _cached_tls_context(cafile: Optional[str], verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)


def tls_context(options: TransportOptions) -> ssl.SSLContext:
    """The client TLS context for ``options`` (shared: contexts are thread-safe and costly to load).

    Raises ``ssl.SSLError`` / ``OSError`` if the CA bundle cannot be loaded.
    """
    if not options.verify_ssl:
        return _cached_tls_context(None, False)
    return _cached_tls_context(options.ca_bundle(), True)


Origin = tuple[str, str, int]


def _split_url(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"cannot POST to {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, parts.hostname, port), target


def _proxy_for(origin: Origin) -> Optional[tuple[str, int, Optional[str]]]:
    """``(host, port, Proxy-Authorization value)`` of the proxy to use for ``origin``, if any."""
    scheme, host, _ = origin
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return None
    authorization = None
    if parts.username is not None:
        userpass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(userpass.encode("utf-8")).decode("ascii")
    return parts.hostname, parts.port or 8080, authorization


def _is_dropped(sock: Optional[socket.socket]) -> bool:
    """True if an idle keep-alive socket is readable: the server closed it (or sent junk)."""
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _OneSendMixin:
    """Send the request line, headers and a bytes body in one ``send()``.

    ``http.client`` sends the body in a second ``send()``: a second TCP segment and system call
    per request. ``_send_output`` and ``_buffer`` are internals, stable since Python 3.0; if they
    ever change we fall back to the standard behaviour.
    """

    def _send_output(self, message_body: object = None, encode_chunked: bool = False) -> None:
        buffer = getattr(self, "_buffer", None)
        if isinstance(message_body, bytes) and not encode_chunked and isinstance(buffer, list):
            buffer.extend((b"", b""))
            message = b"\r\n".join(buffer) + message_body
            del buffer[:]
            self.send(message)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTPConnection(_OneSendMixin, http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = resolve.create_connection  # resolution within the timeout


class _HTTPSConnection(_OneSendMixin, http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = resolve.create_connection


def _keep_to(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Give the socket what is left until ``deadline``; a timeout if nothing is."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise socket.timeout("the send took longer than its timeout")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)


class Connection:
    """A persistent HTTP/1.1 connection to one origin, reopened when needed. Not thread-safe:
    one per sender thread.
    """

    #: The ``http.client`` classes :meth:`_open` uses; a green runtime substitutes ones whose
    #: ``connect`` uses its cooperative sockets (see :mod:`raven._runtime.green`).
    http_class: type[http.client.HTTPConnection] = _HTTPConnection
    https_class: type[http.client.HTTPSConnection] = _HTTPSConnection

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        #: TCP connections opened so far (for tests and stats).
        self.opened = 0
        self._conn: Optional[http.client.HTTPConnection] = None
        self._origin: Optional[Origin] = None
        self._absolute_target = False  # plain HTTP through a proxy: request-target is the full URL
        self._proxy_authorization: Optional[str] = None

    def post(self, request: Request) -> Outcome:
        """POST ``request``; a :class:`Reply` for any HTTP status, else a :class:`Failure`."""
        try:
            origin, target = _split_url(request.url)
        except ValueError as exc:
            return classify(exc, "connect")
        if origin != self._origin:
            self.close()
            self._origin = origin
        deadline = time.monotonic() + self.options.timeout
        for attempt in (1, 2):
            conn = self._conn
            reused = conn is not None and conn.sock is not None
            if conn is not None and reused and _is_dropped(conn.sock):
                self.close()
                conn, reused = None, False
            phase: Phase = "connect"
            try:
                if conn is None or not reused:
                    conn = self._open(origin, deadline)
                phase = "exchange"
                _keep_to(conn, deadline)
                self._send(conn, request, target)
                _keep_to(conn, deadline)
                response = conn.getresponse()
            except Exception as exc:
                self.close()
                # A keep-alive connection the server closed between requests: resend once.
                if attempt == 1 and reused and isinstance(exc, _STALE):
                    continue
                return classify(exc, phase)
            try:
                return self._read(response)
            except Exception as exc:  # pragma: no cover - _read handles I/O errors itself
                self.close()
                return classify(exc, "exchange")
        return Failure(FailureKind.OTHER, "unreachable")  # pragma: no cover

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def detach(self) -> None:
        """Forget the socket without closing it (in a forked child: the parent still owns it)."""
        self._conn = None
        self._origin = None

    def make_tls_context(self) -> ssl.SSLContext:
        """The TLS context for new HTTPS connections (a green runtime returns its own kind)."""
        return tls_context(self.options)

    # -- internals

    def _open(self, origin: Origin, deadline: float) -> http.client.HTTPConnection:
        scheme, host, port = origin
        timeout = max(0.001, deadline - time.monotonic())
        proxy = _proxy_for(origin)
        self._absolute_target = proxy is not None and scheme == "http"
        self._proxy_authorization = proxy[2] if proxy is not None and scheme == "http" else None
        connect_host, connect_port = (proxy[0], proxy[1]) if proxy is not None else (host, port)
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = self.https_class(
                connect_host, connect_port, timeout=timeout, context=self.make_tls_context()
            )
        else:
            conn = self.http_class(connect_host, connect_port, timeout=timeout)
        if proxy is not None and scheme == "https":
            tunnel_headers = {"Proxy-Authorization": proxy[2]} if proxy[2] else None
            conn.set_tunnel(host, port, headers=tunnel_headers)
        self._conn = conn
        self.opened += 1
        conn.connect()  # TCP, tunnel, TLS handshake (SNI and hostname check by the context)
        try:
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn

    def _send(self, conn: http.client.HTTPConnection, request: Request, target: str) -> None:
        if self._absolute_target:
            target = request.url
        headers = request.headers
        conn.putrequest(
            "POST", target, skip_host="Host" in headers or "host" in headers, skip_accept_encoding=True
        )
        for name, value in headers.items():
            if name.lower() != "content-length":  # ours is the one that matches the body
                conn.putheader(name, value)
        if self._proxy_authorization:
            conn.putheader("Proxy-Authorization", self._proxy_authorization)
        conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body)

    def _read(self, response: http.client.HTTPResponse) -> Reply:
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            # Repeated headers (X-Sentry-Rate-Limits may be) combine as one comma-separated list.
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            body = response.read(MAX_REPLY_BODY)
        except (OSError, http.client.HTTPException):
            # The status and headers arrived: the server has decided. A broken body only costs
            # the connection.
            body = b""
            self.close()
        if not response.isclosed() or response.will_close:
            # More body than we care to read (drop the connection rather than drain it), or the
            # server said it will close.
            self.close()
        return Reply(response.status, headers, body)
