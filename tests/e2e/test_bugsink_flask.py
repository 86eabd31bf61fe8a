"""A Flask view's exception, captured by raven.contrib.flask under a real WSGI server (wsgiref on
127.0.0.1), is stored by a real Bugsink server with the request it came from (URL, method, query
string, form fields, headers, env) and the user's address; the event id Bugsink stores is the one
the response's X-Sentry-ID header gave."""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.parse
import urllib.request
import wsgiref.simple_server
from typing import Any

import pytest
from bugsink_api import BugsinkProject

flask = pytest.importorskip("flask")

pytestmark = pytest.mark.e2e


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return io.StringIO()


def test_flask_view_exception_stored_with_its_request(
    bugsink_project: BugsinkProject, make_client: Any
) -> None:
    from raven.contrib.flask import Sentry
    from raven.transport.http import HTTPTransport

    app = flask.Flask("bugsink_flask_app")

    @app.route("/orders/<order>/pay", methods=["POST"])
    def pay(order: str) -> str:
        raise RuntimeError(f"payment of order {order} failed")

    client = make_client(
        bugsink_project.dsn, HTTPTransport, release="flask-e2e-1", install_logging_hook=False
    )
    Sentry(app, client=client)
    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/orders/A-17/pay?retry=2",
            data=urllib.parse.urlencode({"amount": "12.50", "currency": "EUR"}).encode(),
            headers={"User-Agent": "e2e-agent/1", "X-Request-Id": "req-17"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=10)
        assert raised.value.code == 500
        event_id = raised.value.headers["X-Sentry-ID"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)

    assert client.flush(10)
    stored = bugsink_project.wait_for_event(event_id)
    [exception] = stored.exceptions
    assert (exception["type"], exception["value"]) == ("RuntimeError", "payment of order A-17 failed")
    assert stored.function_names()[-1] == "pay"
    assert stored.data["release"] == "flask-e2e-1"
    assert stored.data["transaction"] == "/orders/<order>/pay"
    http = stored.data["request"]
    assert http["url"] == f"http://127.0.0.1:{port}/orders/A-17/pay"
    assert http["method"] == "POST"
    assert http["query_string"] == "retry=2"
    assert http["data"] == {"amount": "12.50", "currency": "EUR"}
    assert http["headers"]["User-Agent"] == "e2e-agent/1"
    assert http["headers"]["X-Request-Id"] == "req-17"
    assert http["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert http["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert stored.data["user"]["ip_address"] == "127.0.0.1"
