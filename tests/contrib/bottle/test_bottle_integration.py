"""raven.contrib.bottle against Bottle, served by a real WSGI server (wsgiref on 127.0.0.1), with
a real raven Client delivering to a loopback Sentry server: errors with Bottle's catch-all 500
page and with ``catchall = False``, the request data (URL, query, method, form fields, headers,
env), ``captureException`` / ``captureMessage`` on the wrapper, the logging option, and a second
wrap of the same app."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

bottle = pytest.importorskip("bottle")

from contrib_support import WSGIServer, only_exception, sentry_client, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

from raven.contrib.bottle import Sentry  # noqa: E402


def make_app(catchall: bool = True) -> Any:
    app = bottle.Bottle()
    app.config["catchall"] = catchall

    @app.route("/boom/", method=["GET", "POST"])
    def boom() -> str:
        raise ValueError("boom in Bottle")

    @app.route("/capture/")
    def capture() -> str:
        try:
            raise KeyError("handled in Bottle")
        except KeyError:
            return str(app.sentry.captureException())

    @app.route("/message/")
    def message() -> str:
        return str(app.sentry.captureMessage("hello from Bottle"))

    @app.route("/ok/")
    def ok() -> str:
        return "ok"

    return app


@pytest.fixture
def sentry_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def client(sentry_server: LoopbackServer) -> Iterator[Any]:
    made = sentry_client(sentry_server)
    yield made
    made.close(timeout=2)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[WSGIServer] = []

    def start(app: Any) -> WSGIServer:
        server = WSGIServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_error_answered_by_bottles_500_page(sentry_server: LoopbackServer, client: Any, serve: Any) -> None:
    app = make_app()
    server = serve(Sentry(app, client))

    reply = server.post("/boom/?page=2", b"name=Ada&name=Grace&x=1", "application/x-www-form-urlencoded")

    assert reply.status == 500
    [event] = wait_for_events(sentry_server, 1)
    exc = only_exception(event)
    assert (exc["type"], exc["value"]) == ("ValueError", "boom in Bottle")
    assert exc["stacktrace"]["frames"][-1]["function"] == "boom"
    request = event["request"]
    assert request["url"] == f"http://127.0.0.1:{server.port}/boom/"
    assert request["query_string"] in ("page=2", [["page", "2"]])
    assert request["method"] == "POST"
    assert request["data"] == {"name": "Grace", "x": "1"}  # raven 6.10 kept a field's last value
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert "app" in event["extra"]


def test_error_raised_through_with_catchall_off(
    sentry_server: LoopbackServer, client: Any, serve: Any
) -> None:
    server = serve(Sentry(make_app(catchall=False), client))

    reply = server.get("/boom/")

    assert reply.status == 500  # wsgiref's own answer: the exception went through the wrapper
    [event] = wait_for_events(sentry_server, 1)
    assert only_exception(event)["type"] == "ValueError"
    assert event["request"]["url"].endswith("/boom/")


def test_capture_exception_and_message_on_the_wrapper(
    sentry_server: LoopbackServer, client: Any, serve: Any
) -> None:
    server = serve(Sentry(make_app(), client))

    captured = server.get("/capture/?a=1").body.decode()
    message = server.get("/message/").body.decode()
    assert server.get("/ok/").body == b"ok"

    events = {event["event_id"]: event for event in wait_for_events(sentry_server, 2)}
    assert set(events) == {captured, message}
    assert only_exception(events[captured])["type"] == "KeyError"
    assert events[captured]["request"]["url"].endswith("/capture/")
    assert events[message]["logentry"]["formatted"] == "hello from Bottle"
    assert events[message]["request"]["url"].endswith("/message/")


def test_outside_a_request_and_rewrapping(sentry_server: LoopbackServer, client: Any) -> None:
    app = make_app()
    Sentry(app, client)
    second = Sentry(app, client)  # raven 6.10 failed here: "Attribute sentry already defined"
    assert app.sentry is second

    event_id = second.captureMessage("no request here")

    [event] = wait_for_events(sentry_server, 1)
    assert event["event_id"] == event_id
    assert "request" not in event


def test_logging_option(sentry_server: LoopbackServer, client: Any) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        Sentry(make_app(), client, logging=True)
        logger = logging.getLogger(f"bottle_test.{uuid.uuid4().hex[:6]}")
        logger.error("logged with Bottle's wrapper installed")
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
    [event] = wait_for_events(sentry_server, 1)
    assert event["logger"] == logger.name
