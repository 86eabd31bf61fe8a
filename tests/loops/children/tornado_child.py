"""Tornado scenarios for tests/loops/test_tornado.py: the asyncio child's scenarios, run by
``IOLoop.run_sync`` (Tornado 6 runs on asyncio), with ``tornado`` as the library."""

from __future__ import annotations

import warnings
from typing import Any, Awaitable, Callable

import asyncio_child


def ioloop_run(main: Callable[[], Awaitable[None]]) -> None:
    from tornado.ioloop import IOLoop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # IOLoop.current() without a running loop
        loop: Any = IOLoop.current()
    loop.run_sync(main, timeout=90)


async def configured_client() -> None:
    """The application configured its own AsyncHTTPClient (here one that, like the curl client,
    refuses ``ssl_options``): the transport sends with it."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    class OwnClient(AsyncHTTPClient):  # not a SimpleAsyncHTTPClient, as the curl client
        fetched: list[str] = []

        def initialize(self, max_clients: int = 10, **kwargs: Any) -> None:  # type: ignore[override]
            super().initialize(defaults=kwargs.get("defaults"))
            self.inner = SimpleAsyncHTTPClient(force_instance=True, max_clients=max_clients)

        def fetch_impl(self, request: Any, callback: Any) -> None:
            if request.ssl_options is not None:
                raise ValueError("ssl_options not supported in this client")
            OwnClient.fetched.append(request.url)
            self.inner.fetch_impl(request, callback)

        def close(self) -> None:
            self.inner.close()
            super().close()

    AsyncHTTPClient.configure(OwnClient)
    client = asyncio_child.make_client(asyncio_child.PARAMS["dsn"])
    client.captureMessage("through the configured client")
    transport = asyncio_child.transport(client)
    asyncio_child.RESULT["flushed"] = await transport.aflush(10)
    asyncio_child.RESULT["fetched"] = len(OwnClient.fetched)
    asyncio_child.RESULT["stats"] = asyncio_child.stats(client)
    await transport.aclose(1)


asyncio_child.ASYNC_SCENARIOS["configured_client"] = configured_client
asyncio_child.FAMILY.library = "tornado"
asyncio_child.FAMILY.run = ioloop_run

if __name__ == "__main__":
    asyncio_child.main()
