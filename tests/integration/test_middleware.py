"""raven.middleware.Sentry in a real WSGI server (wsgiref on 127.0.0.1, real HTTP requests): what is
captured when the application raises, while its response is iterated or closed, and with which
request data; that the request's context does not outlive it; and one run that delivers the
event to a loopback Sentry server through a real client."""

from __future__ import annotations

import http.client
import io
import json
import threading
import wsgiref.simple_server
from collections.abc import Iterable, Iterator
from typing import Any, Callable

import pytest

from raven.base import Client
from raven.middleware import Sentry
from raven.transport.http import HTTPTransport
from raven.utils.levels import normalize_level
from raven.utils.testutils import InMemoryClient

QUIET: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}
App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return io.StringIO()  # wsgiref prints the application's tracebacks here


class WSGIServer:
    """wsgiref serving ``app`` on 127.0.0.1 in a thread (one request at a time, like a worker)."""

    def __init__(self, app: App) -> None:
        self.httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One GET; a response cut short by the application's error gives what was read."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            try:
                body = response.read()
            except http.client.IncompleteRead as exc:
                body = exc.partial
            return response.status, body
        finally:
            connection.close()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def client(in_memory_client: InMemoryClient) -> InMemoryClient:
    return in_memory_client


@pytest.fixture
def serve() -> Iterator[Callable[[App], WSGIServer]]:
    servers: list[WSGIServer] = []

    def start(app: App) -> WSGIServer:
        server = WSGIServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def check_request(
    request: dict[str, Any], server: WSGIServer, path: str, query: str, headers: dict[str, str]
) -> None:
    """The event's ``request`` is the one the server got: method, URL without the query, the
    query string, the headers sent, and the client and server addresses."""
    assert request["method"] == "GET"
    assert request["url"] == f"http://127.0.0.1:{server.port}{path}"
    assert request["query_string"] == query
    for name, value in headers.items():
        assert request["headers"][name] == value
    assert request["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert sorted(request["env"]) == ["REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT"]
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert str(request["env"]["SERVER_PORT"]) == str(server.port)


def only_exception(event: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = event["exception"]["values"][-1]
    return value


def test_exception_raised_by_the_application_is_captured_with_the_request(
    client: InMemoryClient, serve: Callable[[App], WSGIServer]
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise ValueError("hello world")

    server = serve(Sentry(app, client=client))
    status, _ = server.get("/an-error?foo=bar", headers={"X-Request-Id": "r-1"})
    assert status == 500

    [event] = client.events
    exc = only_exception(event)
    assert (exc["type"], exc["value"]) == ("ValueError", "hello world")
    assert normalize_level(event["level"]) == "error"
    check_request(event["request"], server, "/an-error", "foo=bar", {"X-Request-Id": "r-1"})


def test_exception_while_iterating_the_response_is_captured(
    client: InMemoryClient, serve: Callable[[App], WSGIServer]
) -> None:
    closed = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            try:
                yield b"partial "
                raise KeyError("during iteration")
            finally:
                closed.append(True)

        return body()

    server = serve(Sentry(app, client=client))
    status, body = server.get("/stream")
    assert status == 200 and body.startswith(b"partial")
    [event] = client.events
    exc = only_exception(event)
    assert exc["type"] == "KeyError" and "during iteration" in exc["value"]
    assert event["request"]["url"].endswith("/stream")
    assert closed == [True]


def test_exception_from_the_response_close_is_captured(
    client: InMemoryClient, serve: Callable[[App], WSGIServer]
) -> None:
    class Response:
        def __iter__(self) -> Iterator[bytes]:
            yield b"complete body"

        def close(self) -> None:
            raise RuntimeError("close failed")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Response()

    server = serve(Sentry(app, client=client))
    status, body = server.get("/closing")
    assert (status, body) == (200, b"complete body")
    [event] = client.events
    assert only_exception(event)["type"] == "RuntimeError"
    assert event["request"]["url"].endswith("/closing")


def test_successful_requests_capture_nothing_and_close_the_response(
    client: InMemoryClient, serve: Callable[[App], WSGIServer]
) -> None:
    closed = []

    class Response(list):  # type: ignore[type-arg]
        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Response([b"ok"])

    server = serve(Sentry(app, client=client))
    assert server.get("/") == (200, b"ok")
    assert server.get("/again") == (200, b"ok")
    assert client.events == []
    assert closed == [True, True]


@pytest.mark.parametrize("first_request_fails", [False, True], ids=["after-success", "after-error"])
def test_request_context_does_not_reach_the_next_request(
    client: InMemoryClient, serve: Callable[[App], WSGIServer], first_request_fails: bool
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/first":
            client.tags_context({"first": "yes"})
            client.user_context({"id": "alice"})
            client.transaction.push("first-view")
            if first_request_fails:
                raise ValueError("first")
        else:
            client.captureMessage("second")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"transaction": client.transaction.peek()}).encode()]

    server = serve(Sentry(app, client=client))
    server.get("/first")
    status, body = server.get("/second?x=2")
    assert status == 200
    assert json.loads(body) == {"transaction": None}
    second = client.events[-1]
    assert "first" not in (second.get("tags") or {})
    assert not second.get("user")
    assert second["request"]["url"].endswith("/second")
    assert second["request"]["query_string"] == "x=2"


@pytest.mark.parametrize(
    ("error", "captured"),
    [
        (SystemExit(0), False),
        (SystemExit(None), False),
        (SystemExit(1), True),
        (KeyboardInterrupt(), True),
    ],
    ids=["exit-0", "exit-none", "exit-1", "keyboard-interrupt"],
)
def test_process_exits_during_iteration(client: InMemoryClient, error: BaseException, captured: bool) -> None:
    # Without a server: these would stop wsgiref's own thread. The environ is a real one (webob).
    webob = pytest.importorskip("webob")

    class Raising:
        def __iter__(self) -> Iterator[bytes]:
            return self

        def __next__(self) -> bytes:
            raise error

    middleware = Sentry(lambda environ, start_response: Raising(), client=client)
    response = middleware(webob.Request.blank("/an-error?foo=bar").environ, lambda *args: None)
    with pytest.raises(type(error)):
        list(response)
    assert len(client.events) == (1 if captured else 0)
    if captured:
        assert only_exception(client.events[0])["type"] == type(error).__name__
        assert client.events[0]["request"]["url"] == "http://localhost/an-error"
        assert client.events[0]["request"]["headers"]["Host"] == "localhost:80"


def test_default_client_comes_from_sentry_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "http://public@127.0.0.1:9/5")
    middleware = Sentry(lambda environ, start_response: [b""])
    try:
        assert isinstance(middleware.client, Client)
        assert middleware.client.remote.project == "5"
    finally:
        middleware.client.close(timeout=0)


def test_event_reaches_a_sentry_server_with_the_request(
    http_server: Any, serve: Callable[[App], WSGIServer]
) -> None:
    client = Client(http_server.dsn(), transport=HTTPTransport, **QUIET)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise ZeroDivisionError("division by zero")

    try:
        server = serve(Sentry(app, client=client))
        status, _ = server.get("/divide?by=0", headers={"User-Agent": "test-agent/1"})
        assert status == 500
        assert client.flush(10)
        http_server.wait_until(lambda requests: any(r.events() for r in requests), what="an event")
    finally:
        client.close(timeout=5)
    [event] = http_server.events()
    exc = event["exception"]["values"][-1]
    assert (exc["type"], exc["value"]) == ("ZeroDivisionError", "division by zero")
    assert exc["stacktrace"]["frames"][-1]["function"] == "app"
    assert event["level"] == "error"
    check_request(event["request"], server, "/divide", "by=0", {"User-Agent": "test-agent/1"})
