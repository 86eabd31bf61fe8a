"""raven.contrib.webpy against web.py, served by a real WSGI server (wsgiref on 127.0.0.1), with a
real raven Client delivering to a loopback Sentry server: a handler's exception (web.py still
answers 500), the request data as raven 6.10 sent it (URL, query string, method, raw body,
headers, env), captureMessage on the application, and web.py's redirects not reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

web = pytest.importorskip("web")

from contrib_support import WSGIServer, only_exception, sentry_client, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

from raven.contrib.webpy import SentryApplication  # noqa: E402


class Boom:
    def GET(self) -> str:  # noqa: N802  (web.py's names)
        raise ValueError("boom in web.py")

    def POST(self) -> str:  # noqa: N802
        raise TypeError("posted to web.py")


class Redirect:
    def GET(self) -> str:  # noqa: N802
        raise web.seeother("/message")


class Message:
    def GET(self) -> str:  # noqa: N802
        return str(APP[0].captureMessage("hello from web.py"))


APP: list[Any] = []
URLS = ("/boom", "Boom", "/redirect", "Redirect", "/message", "Message")


@pytest.fixture
def served() -> Iterator[tuple[LoopbackServer, WSGIServer]]:
    with LoopbackServer() as sentry_server:
        client = sentry_client(sentry_server)
        app = SentryApplication(client, mapping=URLS, fvars=globals())
        APP[:] = [app]
        server = WSGIServer(app.wsgifunc())
        try:
            yield sentry_server, server
        finally:
            server.stop()
            client.close(timeout=2)


def test_handler_errors(served: tuple[LoopbackServer, WSGIServer]) -> None:
    sentry_server, server = served

    assert server.get("/boom?x=1").status == 500
    assert server.post("/boom?biz=baz", b"foo=bar", "application/x-www-form-urlencoded").status == 500

    get, post = wait_for_events(sentry_server, 2)
    exc = only_exception(get)
    assert (exc["type"], exc["value"]) == ("ValueError", "boom in web.py")
    assert exc["stacktrace"]["frames"][-1]["function"] == "GET"
    assert get["request"]["url"] == f"http://127.0.0.1:{server.port}/boom"
    assert get["request"]["method"] == "GET"
    assert only_exception(post)["type"] == "TypeError"
    request = post["request"]
    assert request["method"] == "POST"
    assert request["query_string"] in ("?biz=baz", "biz=baz", [["biz", "baz"]])
    assert request["data"] in ("foo=bar", {"foo": "bar"})
    assert request["headers"]["Content-Length"] == "7"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"


def test_message_and_redirect(served: tuple[LoopbackServer, WSGIServer]) -> None:
    sentry_server, server = served

    assert server.get("/redirect").status == 303  # web.py's answer, not an error
    event_id = server.get("/message").body.decode()

    [event] = wait_for_events(sentry_server, 1)
    assert event["event_id"] == event_id
    assert event["logentry"]["formatted"] == "hello from web.py"
    assert event["request"]["url"].endswith("/message")
