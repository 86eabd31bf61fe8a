"""raven.contrib.flask when flask-login is not installed (a child interpreter in which it cannot be
imported): the integration works, and the user is the client's address only."""

from __future__ import annotations

import pytest

pytest.importorskip("flask")

from contrib_support import run_python, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

CHILD = """
import sys
sys.modules["flask_login"] = None  # import flask_login -> ImportError, as when not installed

import flask
from raven.base import Client
from raven.transport.http import HTTPTransport
import raven.contrib.flask as integration

assert integration.has_flask_login is False and integration.current_user is None

app = flask.Flask("no_login_app")
app.config["SENTRY_USER_ATTRS"] = ["name"]

@app.route("/boom/")
def boom():
    raise ValueError("boom without flask-login")

client = Client(DSN, transport=HTTPTransport, install_sys_hook=False, install_logging_hook=False)
integration.Sentry(app, client=client)
response = app.test_client().get("/boom/", environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
assert response.status_code == 500, response.status_code
assert client.flush(5)
print("header", response.headers["X-Sentry-ID"])
"""


def test_without_flask_login() -> None:
    with LoopbackServer() as server:
        result = run_python(f"DSN = {server.dsn()!r}\n" + CHILD)
        assert result.returncode == 0, result.stderr
        [event] = wait_for_events(server, 1)
    assert result.stdout.split() == ["header", event["event_id"]]
    assert event["user"] == {"ip_address": "192.0.2.7"}
    assert event["exception"]["values"][-1]["value"] == "boom without flask-login"
