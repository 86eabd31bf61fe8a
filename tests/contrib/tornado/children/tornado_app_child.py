"""Scenarios of tests/contrib/tornado: a real Tornado application (``SentryMixin`` handlers, an
``AsyncSentryClient``) on a free 127.0.0.1 port, real HTTP requests to it, in this child process.

Reads ``{"scenario": ..., "dsn": ...}`` from argv[1]; prints one JSON line (the result) last.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
RESULT: dict[str, Any] = {}


def make_client_class() -> Any:
    from raven.contrib.tornado import AsyncSentryClient

    class RecordingClient(AsyncSentryClient):
        """Records raven 6.10's hooks as they are called (on the IOLoop, after each outcome)."""

        hooks: list[Any] = []

        def _successful_send(self) -> None:
            self.hooks.append(["success"])

        def _failed_send(self, exc: BaseException, url: Any, data: Any) -> None:
            event_id = data.get("event_id") if isinstance(data, dict) else None
            self.hooks.append(["failure", type(exc).__name__, getattr(exc, "code", None), event_id])

    return RecordingClient


def make_app(client: Any) -> Any:
    from tornado import web

    from raven.contrib.tornado import SentryMixin

    class Boom(SentryMixin, web.RequestHandler):
        def get(self) -> None:
            raise ValueError("the stock service is down")

    class HTTPErrorHandler(SentryMixin, web.RequestHandler):
        def get(self) -> None:
            raise web.HTTPError(
                int(self.get_query_argument("code")), "status %s", self.get_query_argument("code")
            )

    class Manual(SentryMixin, web.RequestHandler):
        def prepare(self) -> None:
            self.current_user = {"id": 7, "username": "ana", "email": "ana@example.com"}

        def post(self) -> None:
            try:
                int(self.get_body_argument("qty"))
            except ValueError:
                event_id, future = self.captureException(extra={"cart": "c-1"})
                self.write({"event_id": event_id})

    class Message(SentryMixin, web.RequestHandler):
        def get_current_user(self) -> Any:
            return None

        async def get(self) -> None:
            event_id, future = self.captureMessage("checkout is slow", level="warning")
            delivered = await future  # the event id once the server took it
            self.write({"event_id": event_id, "delivered": delivered})

    class Callback(SentryMixin, web.RequestHandler):
        async def get(self) -> None:
            got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.captureMessage("via a callback", callback=got.set_result)
            self.write({"callback": await got})

    app = web.Application(
        [
            (r"/boom", Boom),
            (r"/http-error", HTTPErrorHandler),
            (r"/manual", Manual),
            (r"/message", Message),
            (r"/callback", Callback),
        ]
    )
    app.sentry_client = client
    return app


async def serve_and_request() -> None:
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    client = make_client_class()(PARAMS["dsn"], install_sys_hook=False, install_logging_hook=False)
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = HTTPServer(make_app(client))
    server.add_sockets(sockets)
    http = AsyncHTTPClient(force_instance=True)
    base = f"http://127.0.0.1:{port}"
    responses: dict[str, Any] = {}
    requests = [
        ("boom", f"{base}/boom?x=1", {}),
        ("404", f"{base}/http-error?code=404", {}),
        ("503", f"{base}/http-error?code=503", {}),
        (
            "manual",
            f"{base}/manual?from=cart",
            {
                "method": "POST",
                "body": "qty=two",
                "headers": {"Cookie": "session=s1", "X-Request-Id": "r-9"},
            },
        ),
        ("message", f"{base}/message", {}),
        ("callback", f"{base}/callback", {}),
    ]
    for name, url, options in requests:
        response = await http.fetch(url, raise_error=False, request_timeout=20, **options)
        body = response.body.decode() if response.body else ""
        responses[name] = {"code": response.code, "body": json.loads(body) if body.startswith("{") else None}
    RESULT["port"] = port
    RESULT["responses"] = responses
    RESULT["flushed"] = await client.aflush(10)
    RESULT["hooks"] = client.hooks
    RESULT["stats"] = dict(client.delivery_stats())
    RESULT["stats"].pop("rate_limited_until", None)
    http.close()
    server.stop()
    await client.aclose(2)


async def outcomes() -> None:
    """Each capture's future, against a server that answers as the parent scripted."""
    client = make_client_class()(PARAMS["dsn"], install_sys_hook=False, install_logging_hook=False)
    results = []
    for index in range(PARAMS.get("captures", 1)):
        called: list[Any] = []
        event_id, future = client.captureMessage(f"capture {index}", callback=called.append)
        try:
            value: Any = await asyncio.wait_for(future, 10)
            outcome = ["result", value]
        except Exception as exc:
            outcome = ["error", type(exc).__name__, getattr(exc, "code", None)]
        await asyncio.sleep(0)  # the hooks and the callback run right after the future
        results.append({"event_id": event_id, "outcome": outcome, "callback": called})
    RESULT["results"] = results
    RESULT["hooks"] = client.hooks
    RESULT["stats"] = dict(client.delivery_stats())
    RESULT["stats"].pop("rate_limited_until", None)
    await client.aclose(1)


def off_loop() -> None:
    """Captured on a thread without an event loop: a thread-safe future, sent from a loop thread."""
    from raven.contrib.tornado import AsyncSentryClient

    client = AsyncSentryClient(PARAMS["dsn"], install_sys_hook=False, install_logging_hook=False)
    out: dict[str, Any] = {}

    def capture() -> None:
        event_id, future = client.captureMessage("from a worker thread")
        out["event_id"] = event_id
        out["future_type"] = type(future).__module__ + "." + type(future).__name__
        out["result"] = future.result(timeout=10)

    thread = threading.Thread(target=capture)
    thread.start()
    thread.join(15)
    RESULT.update(out)
    client.close(1)


def validate_cert() -> None:
    """``validate_cert=False`` (raven 6.10's option) against a server with a self-signed certificate."""
    from raven.contrib.tornado import AsyncSentryClient

    async def main() -> None:
        client = AsyncSentryClient(
            PARAMS["dsn"], validate_cert=False, install_sys_hook=False, install_logging_hook=False
        )
        event_id, future = client.captureMessage("over TLS")
        RESULT["result"] = await asyncio.wait_for(future, 10)
        RESULT["event_id"] = event_id
        await client.aclose(1)

    asyncio.run(main())


def main() -> None:
    started = time.monotonic()
    scenario = PARAMS["scenario"]
    if scenario == "app":
        asyncio.run(serve_and_request())
    elif scenario == "outcomes":
        asyncio.run(outcomes())
    elif scenario == "off_loop":
        off_loop()
    elif scenario == "validate_cert":
        validate_cert()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    RESULT["elapsed"] = time.monotonic() - started
    print(json.dumps(RESULT, default=str))


if __name__ == "__main__":
    main()
