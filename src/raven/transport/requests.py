"""raven 6.10's ``RequestsHTTPTransport``: the synchronous transport, on a ``requests.Session``.

Same contract as :class:`~raven.transport.http.HTTPTransport` (whose option parsing, connection
pool and ``send`` it reuses): ``send`` returns the Reply for a 2xx answer and raises otherwise
(``RateLimited`` / ``APIError`` / ``TransportNetworkError``), so the client settles it exactly like
the stdlib transport. raven 6.10 never looked at the status; we do.

Each pooled "connection" is one ``requests.Session`` (sessions are not thread-safe, so a session is
used by one caller at a time; the pool keeps a few idle ones). ``requests`` is imported when the
transport is built, never by ``import raven``.

``timeout`` is requests' connect and read timeout. Name resolution, which requests cannot bound,
is checked first within ``timeout`` (:func:`raven._runtime.resolve.resolve`; a name that resolved
is trusted for a minute): a resolver that hangs costs the caller at most ``timeout``.
"""

from __future__ import annotations

import socket
import time
import types
from typing import Any, Optional
from urllib.parse import urlsplit

from raven._delivery.dsn import COMMON_OPTIONS, TransportOptions
from raven._delivery.model import Failure, FailureKind, Outcome, Reply, Request
from raven._runtime import resolve
from raven._runtime.connection import MAX_REPLY_BODY
from raven.transport._extras import require
from raven.transport.http import HTTPTransport

__all__ = ("RequestsHTTPTransport", "RequestsSession", "classify_requests_error")

EXTRA = "requests"

#: Seconds a name that resolved is not looked up again before a request.
RESOLVED_FOR = 60.0


_Table = tuple[tuple[type[BaseException], Optional[FailureKind]], ...]


def _failure_table(requests: types.ModuleType) -> _Table:
    """The one table from requests' exceptions to failure kinds; first match wins (subclasses first).

    ``None``: a ``ConnectionError`` is a connect failure unless urllib3 says the connection broke
    during the exchange (see :func:`classify_requests_error`).
    """
    exc = requests.exceptions
    return (
        (exc.SSLError, FailureKind.TLS),  # bad certificate, wrong hostname, handshake failure
        (exc.Timeout, FailureKind.TIMEOUT),  # ConnectTimeout and ReadTimeout
        (exc.ProxyError, FailureKind.CONNECT),
        (exc.ChunkedEncodingError, FailureKind.READ),
        (exc.ContentDecodingError, FailureKind.READ),
        (exc.ConnectionError, None),
        (exc.InvalidURL, FailureKind.OTHER),
        (exc.InvalidHeader, FailureKind.OTHER),
        (exc.MissingSchema, FailureKind.OTHER),
        (exc.InvalidSchema, FailureKind.OTHER),
        (exc.RequestException, FailureKind.OTHER),
        (TimeoutError, FailureKind.TIMEOUT),
        (OSError, FailureKind.READ),
        (ValueError, FailureKind.OTHER),
    )


def _broke_during_exchange(exc: BaseException) -> bool:
    """True if urllib3's error under a ``requests.ConnectionError`` is a ProtocolError (reset, closed)."""
    import urllib3.exceptions

    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.ProtocolError):
            return True
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return False
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        pending.append(getattr(current, "reason", None))
        pending.append(current.__cause__ if isinstance(current, BaseException) else None)
        pending.append(current.__context__ if isinstance(current, BaseException) else None)
    return False


def classify_requests_error(exc: BaseException) -> Failure:
    """Map any exception raised by ``requests`` while posting to a :class:`Failure`."""
    requests = require("requests", EXTRA)
    for exc_type, table_kind in _failure_table(requests):
        if isinstance(exc, exc_type):
            if table_kind is None:
                kind = FailureKind.READ if _broke_during_exchange(exc) else FailureKind.CONNECT
            else:
                kind = table_kind
            break
    else:
        kind = FailureKind.OTHER
    return Failure(kind, f"{type(exc).__name__}: {exc}")


class RequestsSession:
    """One ``requests.Session`` used as a keep-alive connection (the pool's unit; not thread-safe).

    Offers the worker's ``Poster`` interface: ``post(request) -> Reply | Failure`` (never raises),
    ``close()``, ``detach()``.
    """

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self._requests = require("requests", EXTRA)
        self._session: Optional[Any] = None
        self._proxies: dict[str, Any] = {}
        # True after an exchange that left the connection open: a reset on the next request is then
        # a stale keep-alive connection (the server closed it meanwhile), which we resend once.
        self._kept_alive = False
        # raven 6.10 mapped verify_ssl/ca_certs to requests' ``verify`` (a bundle path or False).
        self._verify = options.ca_bundle() if options.verify_ssl else False
        self._resolved: dict[tuple[str, int], float] = {}  # (host, port) -> until when it is trusted

    def _open(self) -> Any:
        session = self._session
        if session is None:
            requests = self._requests
            session = requests.Session()
            # Only our headers go out (no python-requests User-Agent, no Accept-Encoding we ignore).
            session.headers.clear()
            # requests re-reads the proxy variables (scanning os.environ), netrc and
            # REQUESTS_CA_BUNDLE on every request when trust_env is on: ~0.4 ms each time. We read
            # the proxies once per session and URL instead (a new session after a failure re-reads).
            session.trust_env = False
            self._proxies = {}
            # One connection per session; no urllib3 retries: the delivery core decides what to resend.
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._session = session
        return session

    def post(self, request: Request) -> Outcome:
        """POST ``request``; a :class:`Reply` for any HTTP status, else a :class:`Failure`."""
        try:
            self._check_name(request.url)
        except OSError as exc:
            return Failure(FailureKind.CONNECT, f"{type(exc).__name__}: {exc}")
        for attempt in (1, 2):
            reused = self._kept_alive
            try:
                return self._exchange(request)
            except Exception as exc:
                self._kept_alive = False
                failure = classify_requests_error(exc)
                if attempt == 1 and reused and failure.kind is FailureKind.READ:
                    self.close()
                    continue
                return failure
        return Failure(FailureKind.OTHER, "unreachable")  # pragma: no cover

    def _check_name(self, url: str) -> None:
        """Resolve the URL's host within ``timeout`` (unless a proxy does it); raises OSError."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host or self._proxies_for(url):
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        now = time.monotonic()
        if self._resolved.get((host, port), 0.0) > now:
            return
        try:
            resolve.resolve(host, port, self.options.timeout)
        except socket.gaierror:
            self._resolved.pop((host, port), None)
            raise
        self._resolved[(host, port)] = now + RESOLVED_FOR

    def _proxies_for(self, url: str) -> Any:
        proxies = self._proxies.get(url)
        if proxies is None:
            # The environment's proxies for this URL (no_proxy honoured), as trust_env would find.
            proxies = self._proxies[url] = self._requests.utils.get_environ_proxies(url)
        return proxies

    def _exchange(self, request: Request) -> Reply:
        timeout = self.options.timeout
        session = self._open()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        response = session.post(
            request.url,
            proxies=self._proxies_for(request.url),
            data=request.body,
            headers=headers,
            timeout=(timeout, timeout),
            verify=self._verify,
            allow_redirects=False,  # as the stdlib transport: a redirect is a failed send
            stream=True,  # read at most MAX_REPLY_BODY of the body
        )
        body = b""
        complete = False
        try:
            body = response.raw.read(MAX_REPLY_BODY, decode_content=True) or b""
            complete = response.raw.read(1, decode_content=True) == b""
        except Exception:
            pass  # the status and headers arrived: the server has decided; only the connection is lost
        closing = response.headers.get("connection", "").lower() == "close"
        self._kept_alive = complete and not closing
        if self._kept_alive:
            response.raw.release_conn()  # back to the session's pool for the next request
        else:
            response.close()  # more body than we read, or a broken one: drop the connection
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)

    def close(self) -> None:
        session, self._session = self._session, None
        self._kept_alive = False
        if session is not None:
            try:
                session.close()
            except Exception:
                pass

    def detach(self) -> None:
        """Forget the session without closing its sockets (in a forked child: the parent owns them)."""
        self._session = None
        self._kept_alive = False


class RequestsHTTPTransport(HTTPTransport):
    """Blocking POSTs with ``requests`` (keep-alive sessions, a few kept idle for concurrent callers).

    DSN options as :class:`~raven.transport.http.HTTPTransport`: ``timeout`` (connect and read,
    seconds), ``verify_ssl``, ``ca_certs`` (default: certifi's bundle), ``protocol``,
    ``shutdown_timeout``.
    """

    scheme = ["requests+http", "requests+https"]
    accepted_options: frozenset[str] = COMMON_OPTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        require("requests", EXTRA)  # ConfigurationError naming the extra, before anything else
        super().__init__(*args, **kwargs)

    def new_connection(self) -> Any:
        """A requests session with this transport's options (the pool's unit, one per caller)."""
        return RequestsSession(self.options)
