"""raven.contrib.flask against Flask 3: Flask's test client and a real WSGI server (wsgiref on
127.0.0.1), with a real raven Client delivering to a loopback Sentry server. What is asserted is
what arrived at the server: the exception, the request (URL, query string, method, form fields or
JSON body, headers, env), the user (flask-login's ``current_user``), messages, log records, and
``X-Sentry-ID`` / ``last_event_id``; every event passes Sentry's normalizer."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

flask = pytest.importorskip("flask")
flask_login = pytest.importorskip("flask_login")

from contrib_support import (  # noqa: E402
    WSGIServer,
    check_event,
    only_exception,
    sentry_client,
    wait_for_events,
)
from servers import LoopbackServer  # noqa: E402

from raven.contrib.flask import Sentry  # noqa: E402


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id
        self.name = f"user {user_id}"
        self.email = f"{user_id}@example.org"


def create_app(**config: Any) -> Any:
    app = flask.Flask("flask_test_app")
    app.config["SECRET_KEY"] = "not secret"
    app.config.update(config)

    @app.route("/boom/", methods=["GET", "POST"])
    def boom() -> str:
        raise ValueError("boom in a view")

    @app.route("/capture/")
    def capture() -> str:
        try:
            raise KeyError("handled")
        except KeyError:
            event_id = app.extensions["sentry"].captureException()
        return str(event_id)

    @app.route("/message/")
    def message() -> str:
        sentry = app.extensions["sentry"]
        event_id = sentry.captureMessage("hello from a view")
        return json.dumps([event_id, sentry.last_event_id, flask.g.sentry_event_id])

    @app.route("/log/")
    def log() -> str:
        app.logger.error("logged by the app: %s", "value")
        return "logged"

    @app.route("/ok/")
    def ok() -> str:
        return "ok"

    return app


def add_login(app: Any, loader: Any = None) -> Any:
    manager = flask_login.LoginManager()
    manager.init_app(app)
    manager.user_loader(loader or (lambda user_id: User(user_id)))

    @app.route("/login/<user_id>")
    def login(user_id: str) -> str:
        flask_login.login_user(User(user_id))
        return "in"

    return manager


@pytest.fixture
def sentry_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for client in made:
        client.close(timeout=2)


@pytest.fixture
def make_sentry(sentry_server: LoopbackServer, clients: list[Any]) -> Any:
    def make(app: Any, **options: Any) -> Sentry:
        client = sentry_client(sentry_server)
        clients.append(client)
        return Sentry(app, client=client, **options)

    return make


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


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """Take the handlers a test adds to the root logger (and the loggers it excludes) back off."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)


def test_view_error_through_the_test_client(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    app = create_app()
    make_sentry(app)

    response = app.test_client().post(
        "/boom/?order=17&x=y", data={"name": "Ada", "tag": ["a", "b"]}, headers={"X-Trace": "t-1"}
    )

    assert response.status_code == 500
    [event] = wait_for_events(sentry_server, 1)
    assert response.headers["X-Sentry-ID"] == event["event_id"]
    exc = only_exception(event)
    assert (exc["type"], exc["value"]) == ("ValueError", "boom in a view")
    assert exc["stacktrace"]["frames"][-1]["function"] == "boom"
    assert exc["mechanism"]["handled"] in (True, False)
    assert event["level"] == "error"
    request = event["request"]
    assert request["url"] == "http://localhost/boom/"
    assert request["query_string"] in ("order=17&x=y", [["order", "17"], ["x", "y"]])
    assert request["method"] == "POST"
    assert request["data"] == {"name": "Ada", "tag": ["a", "b"]}
    assert request["headers"]["X-Trace"] == "t-1"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert request["env"]["SERVER_NAME"] == "localhost"
    assert event["transaction"] == "/boom/"
    assert event["user"] == {"ip_address": "127.0.0.1"}


def test_view_error_through_a_real_server_with_a_json_body(
    sentry_server: LoopbackServer, make_sentry: Any, serve: Any
) -> None:
    app = create_app()
    make_sentry(app)
    server = serve(app)

    body = json.dumps({"order": 17, "items": ["apple"]}).encode()
    reply = server.post("/boom/?source=api", body, "application/json", headers={"User-Agent": "agent/1"})

    assert reply.status == 500
    [event] = wait_for_events(sentry_server, 1)
    assert reply.header("X-Sentry-ID") == event["event_id"]
    assert only_exception(event)["type"] == "ValueError"
    request = event["request"]
    assert request["url"] == f"http://127.0.0.1:{server.port}/boom/"
    assert request["method"] == "POST"
    # raven 6.10 sent a JSON request's body as it came; Sentry parses it.
    assert request["data"] in (body.decode(), {"order": 17, "items": ["apple"]})
    assert request["headers"]["User-Agent"] == "agent/1"
    assert request["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert str(request["env"]["SERVER_PORT"]) == str(server.port)
    assert event["user"]["ip_address"] == "127.0.0.1"


def test_forwarded_address_is_the_users(sentry_server: LoopbackServer, make_sentry: Any, serve: Any) -> None:
    app = create_app()
    make_sentry(app)
    server = serve(app)

    server.get("/boom/", headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"})

    [event] = wait_for_events(sentry_server, 1)
    assert event["user"]["ip_address"] == "203.0.113.9"


def test_flask_login_user(sentry_server: LoopbackServer, make_sentry: Any, serve: Any) -> None:
    app = create_app(SENTRY_USER_ATTRS=["name", "email", "missing"])
    add_login(app)
    make_sentry(app)
    server = serve(app)

    login = server.get("/login/u-42")
    cookie = login.header("Set-Cookie")
    assert cookie
    server.get("/boom/", headers={"Cookie": cookie.split(";", 1)[0]})
    server.get("/boom/")  # anonymous

    known, anonymous = wait_for_events(sentry_server, 2)
    assert known["user"]["id"] == "u-42"
    assert known["user"]["ip_address"] == "127.0.0.1"
    assert known["user"]["email"] == "u-42@example.org"
    # Sentry's user has no "name": the normalizer keeps it under user.data (raven-ng's wire).
    assert "user u-42" in json.dumps(known["user"])
    assert anonymous["user"] == {"ip_address": "127.0.0.1"}


def test_a_failing_user_loader_does_not_break_the_request(
    sentry_server: LoopbackServer, make_sentry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_loader(user_id: str) -> Any:
        raise RuntimeError("the user database is down")

    app = create_app()
    add_login(app, broken_loader)
    make_sentry(app)
    client = app.test_client()
    client.get("/login/u-1")

    with caplog.at_level(logging.ERROR, logger="sentry.errors"):
        assert client.get("/ok/").data == b"ok"
        response = client.get("/boom/")

    assert response.status_code == 500
    [event] = wait_for_events(sentry_server, 1)
    assert event["request"]["url"] == "http://localhost/boom/"  # the request survived the failure
    assert any("reading the user" in record.getMessage() for record in caplog.records)


def test_capture_message_and_last_event_id(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    app = create_app()
    sentry = make_sentry(app)

    response = app.test_client().get("/message/?q=1")

    event_id, last_event_id, g_event_id = json.loads(response.data)
    assert event_id == last_event_id == g_event_id == response.headers["X-Sentry-ID"]
    [event] = wait_for_events(sentry_server, 1)
    assert event["event_id"] == event_id
    assert event["logentry"]["formatted"] == "hello from a view"
    assert event["request"]["url"] == "http://localhost/message/"
    assert event["request"]["query_string"] in ("q=1", [["q", "1"]])
    # Outside a request the extension keeps the last id itself.
    assert sentry.last_event_id == event_id


def test_capture_exception_on_the_extension(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    app = create_app()
    make_sentry(app)

    response = app.test_client().get("/capture/")

    assert response.status_code == 200
    [event] = wait_for_events(sentry_server, 1)
    assert response.data.decode() == event["event_id"] == response.headers["X-Sentry-ID"]
    assert only_exception(event)["type"] == "KeyError"
    assert event["request"]["url"] == "http://localhost/capture/"


def test_no_header_and_nothing_sent_without_an_event(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    app = create_app()
    sentry = make_sentry(app)

    response = app.test_client().get("/ok/")

    assert response.status_code == 200
    assert "X-Sentry-ID" not in response.headers
    assert sentry.client.flush(5)
    assert sentry_server.events() == []
    assert sentry.client.context.data == {}  # the request's context does not outlive it


def test_logging_integration(sentry_server: LoopbackServer, make_sentry: Any, root_handlers: None) -> None:
    from raven.contrib.flask import logging_configured
    from raven.handlers.logging import SentryHandler

    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    logging_configured.connect(receiver)
    try:
        app = create_app()
        sentry = make_sentry(app, logging=True, level=logging.WARNING, logging_exclusions=("noisy.lib",))
        other = logging.getLogger(f"flask_test.{uuid.uuid4().hex[:6]}")
        client = app.test_client()
        client.get("/log/")
        other.info("below the handler's level")
        other.warning("a warning from %s", "elsewhere")
        client.get("/boom/")  # Flask logs the error too: reported once
    finally:
        logging_configured.disconnect(receiver)

    assert received == [{"sentry_handler": SentryHandler, "exclude": ("noisy.lib",)}]
    assert logging.getLogger("noisy.lib").propagate is False
    logging.getLogger("noisy.lib").propagate = True
    events = wait_for_events(sentry_server, 3)
    assert sentry.client.flush(5)
    events = sentry_server.events()
    assert len(events) == 3, [e.get("logentry") for e in events]
    by_logger = {event["logger"]: event for event in events}
    app_event = by_logger[app.logger.name]
    assert app_event["logentry"]["formatted"] == "logged by the app: value"
    assert app_event["request"]["url"] == "http://localhost/log/"  # during the request
    assert by_logger[other.name]["level"] == "warning"
    [error] = [event for event in events if "exception" in event]
    assert only_exception(error)["type"] == "ValueError"


def test_register_signal_false_and_debug_mode(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    quiet = create_app()
    sentry = make_sentry(quiet, register_signal=False)
    assert sentry.wrap_wsgi is True
    assert quiet.test_client().get("/boom/").status_code == 500  # Flask answers; nobody captures

    debug = create_app()
    debug.debug = True
    assert make_sentry(debug).wrap_wsgi is False
    assert sentry.client.flush(5)
    assert sentry_server.events() == []


def test_app_factory_and_config(sentry_server: LoopbackServer, clients: list[Any]) -> None:
    sentry = Sentry()
    app = create_app(
        SENTRY_CONFIG={"release": "flask-1.0", "environment": "test", "install_sys_hook": False},
        RAVEN_IGNORE_EXCEPTIONS=["KeyError"],
    )
    sentry.init_app(app, dsn=sentry_server.dsn())
    clients.append(sentry.client)
    assert sentry.client.include_paths == {"flask_test_app"}
    client = app.test_client()

    client.get("/capture/")  # KeyError: ignored
    client.get("/boom/")

    assert sentry.client.flush(5)
    [event] = wait_for_events(sentry_server, 1)
    assert only_exception(event)["type"] == "ValueError"
    assert (event["release"], event["environment"]) == ("flask-1.0", "test")
    assert app.extensions["sentry"] is sentry


def test_client_must_be_a_client() -> None:
    with pytest.raises(TypeError):
        Sentry(create_app(), client="https://public@example.com/1")  # type: ignore[arg-type]


def test_error_before_our_before_request_still_has_the_request(
    sentry_server: LoopbackServer, clients: list[Any]
) -> None:
    app = create_app()

    @app.before_request
    def first() -> None:
        if flask.request.path == "/ok/":
            raise LookupError("in an earlier before_request")

    client = sentry_client(sentry_server)
    clients.append(client)
    Sentry(app, client=client)

    assert app.test_client().get("/ok/?a=1").status_code == 500

    [event] = wait_for_events(sentry_server, 1)
    assert only_exception(event)["type"] == "LookupError"
    assert event["request"]["url"] == "http://localhost/ok/"
    check_event(event)


def test_a_large_json_body_is_described_not_read(sentry_server: LoopbackServer, make_sentry: Any) -> None:
    from raven.contrib.flask.request_info import MAX_BODY_BYTES

    app = create_app()
    make_sentry(app)
    body = b'{"blob": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = app.test_client().post("/boom/", data=body, content_type="application/json")

    assert response.status_code == 500
    [event] = wait_for_events(sentry_server, 1)
    assert event["request"]["data"] == f"[body not captured: {len(body)} bytes]"
