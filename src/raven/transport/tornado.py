"""Tornado transport (raven 6.10's ``TornadoHTTPTransport``): ``AsyncHTTPClient`` on the running IOLoop.

Tornado 6 runs on asyncio, so delivery uses the same :class:`raven._runtime.aio.LoopDispatcher`
as the asyncio transport: the IOLoop running at the first capture (else a private loop thread;
captures from other threads hop onto it); nothing ever blocks the loop (raven 6.10 fell back to
a blocking ``HTTPClient`` when no IOLoop was initialised). In a coroutine, flush with
``await transport.aflush(timeout)``.

HTTP client: our own ``AsyncHTTPClient(force_instance=True, max_clients=max_connections)``, so
closing it never closes the application's shared client. It is whatever implementation the
application configured with ``AsyncHTTPClient.configure(...)`` (we never force one).

Keep-alive: Tornado's default ``SimpleAsyncHTTPClient`` opens one connection per request (it has
no keep-alive); for reused connections configure the curl client before the first capture,
``AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")`` (needs pycurl, which
we do not require). The curl client verifies TLS with ``validate_cert`` / ``ca_certs`` (from the
DSN's ``verify_ssl`` / ``ca_certs``); the simple one gets our ``ssl.SSLContext``.

DSN options: those of the asyncio transport (``timeout``, ``verify_ssl``, ``ca_certs``,
``protocol``, ``shutdown_timeout``, ``queue_size``, ``queue_bytes``, ``max_connections``) and
Tornado's names: ``validate_cert`` (= ``verify_ssl``), ``request_timeout`` (= ``timeout``: the
whole request) and ``connect_timeout`` (default: ``timeout``).
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, Optional

from raven._delivery.dsn import QUEUE_OPTIONS, TransportOptions
from raven._delivery.model import Failure, FailureKind, Outcome, Reply, Request
from raven._runtime.aio import LoopTransport, Poster, classify_by_table, off_loop
from raven._runtime.connection import MAX_REPLY_BODY, classify, tls_context
from raven.exceptions import InvalidDsn
from raven.transport._extras import require
from raven.transport.base import AsyncTransport
from raven.transport.http import HTTPTransport

__all__ = ("TornadoHTTPTransport",)

#: Tornado's option names and the common option each one stands for.
_ALIASES = {"validate_cert": "verify_ssl", "request_timeout": "timeout"}


def _failure_table(tornado: Any) -> tuple[tuple[type[BaseException], FailureKind], ...]:
    """Tornado's exceptions as Failures: the one table (first match wins; stdlib errors, such as
    ``ssl.SSLError`` or ``ConnectionRefusedError``, fall through to :func:`classify`)."""
    simple = tornado["simple_httpclient"]
    return (
        (simple.HTTPTimeoutError, FailureKind.TIMEOUT),  # "Timeout while connecting" / "during request"
        (tornado["util"].TimeoutError, FailureKind.TIMEOUT),
        (simple.HTTPStreamClosedError, FailureKind.READ),  # the server closed before replying
        (tornado["iostream"].StreamClosedError, FailureKind.READ),
        (tornado["httpclient"].HTTPClientError, FailureKind.OTHER),  # 599 from the curl client etc.
    )


class _TornadoPoster:
    """An ``AsyncHTTPClient`` instance of our own on the current IOLoop."""

    def __init__(self, tornado: Any, options: TransportOptions, connect_timeout: float, limit: int) -> None:
        httpclient = tornado["httpclient"]
        self._request_cls = httpclient.HTTPRequest
        self._table = _failure_table(tornado)
        self.options = options
        self.connect_timeout = connect_timeout
        self.ca_certs = options.ca_bundle() if options.verify_ssl else None
        # The simple client takes our context (SNI, hostname check, the same CA handling as the
        # other transports); other clients (curl) refuse ``ssl_options`` and use validate_cert /
        # ca_certs.
        self.ssl_context: Optional[ssl.SSLContext] = None  # loaded off the loop at the first post
        # The implementation the application configured (AsyncHTTPClient.configure), never forced.
        self.simple = issubclass(
            httpclient.AsyncHTTPClient.configured_class(), tornado["simple_httpclient"].SimpleAsyncHTTPClient
        )
        extra: dict[str, Any] = {"resolver": _exit_safe_resolver(tornado["netutil"])} if self.simple else {}
        self.client = httpclient.AsyncHTTPClient(force_instance=True, max_clients=limit, **extra)

    async def post(self, request: Request) -> Outcome:
        try:
            if self.ssl_context is None and self.simple:
                self.ssl_context = await off_loop(tls_context, self.options)
            http_request = self._request_cls(
                request.url,
                method="POST",
                headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
                body=request.body,
                connect_timeout=self.connect_timeout,
                request_timeout=self.options.timeout,
                validate_cert=self.options.verify_ssl,
                ca_certs=self.ca_certs,
                ssl_options=self.ssl_context,
                follow_redirects=False,
                decompress_response=False,
                allow_ipv6=True,
            )
            response = await self.client.fetch(http_request, raise_error=False)
        except Exception as exc:
            return self._classify(exc)
        if response.code == 599 and response.error is not None:  # curl-style "no HTTP reply"
            return self._classify(response.error)
        headers: dict[str, str] = {}
        for name, value in response.headers.get_all():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return Reply(response.code, headers, (response.body or b"")[:MAX_REPLY_BODY])

    def _classify(self, exc: BaseException) -> Failure:
        real = getattr(exc, "real_error", None)  # StreamClosedError wraps the socket error
        if isinstance(real, BaseException):
            return classify(real, "exchange")
        return classify_by_table(exc, self._table)

    async def aclose(self) -> None:
        self.client.close()


def _exit_safe_resolver(netutil: Any) -> Any:
    """Tornado's default resolver, except that IP literals skip the executor, and that a blocking
    lookup replaces it when it refuses work (at interpreter exit: pending events can still go)."""

    class ExitSafeResolver(netutil.DefaultLoopResolver):
        async def resolve(
            self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
        ) -> list[tuple[int, Any]]:
            if not netutil.is_valid_ip(host):
                try:
                    result: list[tuple[int, Any]] = await super().resolve(host, port, family)
                    return result
                except RuntimeError:
                    pass
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            return [(fam, address) for fam, _, _, _, address in infos]

    return ExitSafeResolver()


def _alias(name: str, raw: Any) -> Any:
    """Validate one Tornado-named option with the rules of the common option it stands for."""
    target = _ALIASES.get(name, "timeout")
    try:
        return getattr(TransportOptions.parse({target: raw}), target)
    except InvalidDsn:
        raise InvalidDsn(
            f"invalid value {raw!r} for transport option {name!r}; expected "
            + ("1/0, true/false, yes/no, on/off" if target == "verify_ssl" else "seconds, a number > 0")
        ) from None


class TornadoHTTPTransport(LoopTransport, AsyncTransport, HTTPTransport):
    """Sends with Tornado's ``AsyncHTTPClient`` on the IOLoop; never blocks it."""

    scheme = ["tornado+http", "tornado+https"]
    accepted_options: frozenset[str] = QUEUE_OPTIONS
    loop_name = "tornado"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tornado = {
            name: require(f"tornado.{name}", "tornado")
            for name in ("httpclient", "simple_httpclient", "iostream", "netutil", "util")
        }
        connect_timeout = kwargs.pop("connect_timeout", None)
        for name, target in _ALIASES.items():
            if name in kwargs:
                raw = kwargs.pop(name)
                kwargs[target] = _alias(name, raw)
        super().__init__(*args, **kwargs)
        self.connect_timeout: float = (
            self.options.timeout if connect_timeout is None else _alias("connect_timeout", connect_timeout)
        )

    def _new_poster(self) -> Poster:
        return _TornadoPoster(self._tornado, self.options, self.connect_timeout, self.options.max_connections)
