"""Native asyncio transport (new in raven-ng): aiohttp on the application's event loop.

Why aiohttp rather than httpx: aiohttp is asyncio-native and has one dependency tree we need
anyway for the many asyncio applications that already use it; its ``TCPConnector`` keeps
connections alive with a hard ``limit`` (our in-flight bound), takes an ``ssl.SSLContext``
directly, and its ``ClientTimeout(total=...)`` bounds connect + exchange in one number, like
``timeout`` means elsewhere. httpx's async client would also work, but it pulls in anyio/httpcore
and (with trio support) an extra layer between us and the loop.

Delivery runs on a :class:`raven._runtime.aio.LoopDispatcher` (see there for which loop is used:
the running one at the first capture, else a private loop thread; captures from other threads
hop onto it). In a coroutine, flush with ``await transport.aflush(timeout)``; ``client.flush()``
blocks only when called off the loop.

DSN options: ``timeout``, ``verify_ssl``, ``ca_certs``, ``protocol``, ``shutdown_timeout``,
``queue_size``, ``queue_bytes`` and ``max_connections`` (the connector's limit and the number of
concurrent sends, default 4).
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from typing import Any, Optional
from urllib.parse import urlsplit

from raven._delivery.dsn import QUEUE_OPTIONS, TransportOptions
from raven._delivery.model import Failure, FailureKind, Outcome, Reply, Request
from raven._runtime.aio import LoopTransport, Poster, classify_by_table, off_loop
from raven._runtime.connection import MAX_REPLY_BODY, tls_context
from raven.transport._extras import require
from raven.transport.base import AsyncTransport
from raven.transport.http import HTTPTransport

__all__ = ("AsyncioHTTPTransport",)

#: Headers aiohttp would add on its own; the request carries its own (User-Agent, Content-Type ...).
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")


def _failure_table(aiohttp: Any) -> tuple[tuple[type[BaseException], FailureKind], ...]:
    """aiohttp's exceptions as Failures: the one table. First match wins (subclasses first)."""
    return (
        (aiohttp.ClientConnectorCertificateError, FailureKind.TLS),
        (aiohttp.ClientSSLError, FailureKind.TLS),
        (aiohttp.ServerTimeoutError, FailureKind.TIMEOUT),  # includes ConnectionTimeoutError
        (TimeoutError, FailureKind.TIMEOUT),  # ClientTimeout(total=...) expired (asyncio.TimeoutError)
        (aiohttp.ClientConnectorError, FailureKind.CONNECT),  # refused, DNS, unreachable, proxy
        (aiohttp.ServerDisconnectedError, FailureKind.READ),
        (aiohttp.ClientPayloadError, FailureKind.READ),
        (aiohttp.ClientResponseError, FailureKind.READ),  # malformed reply, proxy refused
        (aiohttp.ClientOSError, FailureKind.READ),  # reset, broken pipe after connecting
        (aiohttp.InvalidURL, FailureKind.OTHER),
        (aiohttp.ClientError, FailureKind.OTHER),
    )


class _AiohttpPoster:
    """One ``ClientSession`` with a keep-alive ``TCPConnector``, made on the loop that uses it."""

    def __init__(self, aiohttp: Any, options: TransportOptions, limit: int) -> None:
        self._aiohttp = aiohttp
        self._table = _failure_table(aiohttp)
        self.options = options
        self.limit = limit
        self.session: Any = None
        self._proxies: dict[str, Optional[str]] = {}

    async def _session(self) -> Any:
        if self.session is None:
            aiohttp = self._aiohttp
            options = self.options
            context = await off_loop(tls_context, options) if options.verify_ssl else False
            if self.session is not None:  # another send task made it meanwhile
                return self.session
            loop = asyncio.get_running_loop()
            resolver = aiohttp.ThreadedResolver(loop=_ExitSafeResolving(loop))
            connector = aiohttp.TCPConnector(limit=self.limit, ssl=context, resolver=resolver)
            # trust_env stays off: it reads ~/.netrc in an executor for every request. Proxies
            # come from the environment as raven 6.10 (urllib) read them: see _proxy.
            self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=options.timeout),
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                auto_decompress=False,
            )
        return self.session

    async def post(self, request: Request) -> Outcome:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        for attempt in (1, 2):
            try:
                session = await self._session()
                async with session.post(
                    request.url,
                    data=request.body,
                    headers=headers,
                    allow_redirects=False,
                    proxy=self._proxy(request.url),
                ) as response:
                    try:
                        body = await response.content.read(MAX_REPLY_BODY)
                    except (self._aiohttp.ClientError, OSError, TimeoutError):
                        body = b""  # the status and headers arrived: the server has decided
                    return Reply(response.status, _headers(response.headers), body)
            except self._aiohttp.ServerDisconnectedError as exc:
                # An idle keep-alive connection the server closed: aiohttp retries only idempotent
                # methods. Resend once (Sentry drops a duplicate by its event id).
                if attempt == 1:
                    continue
                return self._classify(exc)
            except Exception as exc:
                return self._classify(exc)
        return Failure(FailureKind.OTHER, "unreachable")  # pragma: no cover

    def _proxy(self, url: str) -> Optional[str]:
        """The proxy for ``url``'s origin from ``http_proxy`` / ``https_proxy`` / ``no_proxy``."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and parts.hostname and urllib.request.proxy_bypass(parts.hostname):
                proxy = None
            if proxy and "://" not in proxy:
                proxy = f"http://{proxy}"
            self._proxies[origin] = proxy or None
        return self._proxies[origin]

    def _classify(self, exc: BaseException) -> Failure:
        return classify_by_table(exc, self._table)

    async def aclose(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()


class _ExitSafeResolving:
    """The loop's ``getaddrinfo`` for aiohttp's resolver, falling back to a blocking call when the
    executor refuses work (at interpreter exit), so events pending at exit can still be sent."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._loop.getaddrinfo(*args, **kwargs)
        except RuntimeError:
            return socket.getaddrinfo(*args, **kwargs)

    async def getnameinfo(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._loop.getnameinfo(*args, **kwargs)
        except RuntimeError:
            return socket.getnameinfo(*args, **kwargs)


def _headers(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw.items():  # a multidict: repeated headers come one by one
        key = str(name).lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)
    return headers


class AsyncioHTTPTransport(LoopTransport, AsyncTransport, HTTPTransport):
    """Sends with aiohttp on an asyncio loop; ``Client.capture*`` never waits on the network."""

    scheme = ["asyncio+http", "asyncio+https"]
    accepted_options: frozenset[str] = QUEUE_OPTIONS
    loop_name = "asyncio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._aiohttp = require("aiohttp", "asyncio")
        super().__init__(*args, **kwargs)

    def _new_poster(self) -> Poster:
        return _AiohttpPoster(self._aiohttp, self.options, self.options.max_connections)
