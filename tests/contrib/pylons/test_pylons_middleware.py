"""raven.contrib.pylons: Pylons cannot be installed on a current Python (1.0.3 is Python 2 only), and
raven's Pylons middleware never imported it: what it uses of Pylons is a WSGI application and the
``config`` mapping of ini settings. These tests stand in for Pylons with exactly that (a plain
dict of ``sentry.*`` settings, a WSGI app) under a real WSGI server, and check what reaches a
loopback Sentry server."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Callable

from contrib_support import WSGIServer, only_exception, wait_for_events
from servers import LoopbackServer

from raven.base import Client
from raven.contrib.pylons import Sentry, list_from_setting
from raven.transport.http import HTTPTransport


def pylons_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/ok":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    raise ValueError("raised by the Pylons app")


def test_middleware_configured_from_pylons_settings() -> None:
    with LoopbackServer() as sentry_server:
        config = {
            "sentry.dsn": sentry_server.dsn(),
            "sentry.name": "pylons-host",
            "sentry.site": "pylons-site",
            "sentry.include_paths": "myproject  myproject.lib",
            "sentry.exclude_paths": "",
            "other.setting": "ignored",
        }
        client_cls = functools.partial(
            Client, transport=HTTPTransport, install_sys_hook=False, install_logging_hook=False
        )
        app = Sentry(pylons_app, config, client_cls=client_cls)
        assert app.client.include_paths == {"myproject", "myproject.lib"}
        assert app.client.exclude_paths == set()
        server = WSGIServer(app)
        try:
            assert server.get("/ok").body == b"ok"
            assert server.get("/controller/action?id=3", headers={"User-Agent": "pylons-test"}).status == 500
            [event] = wait_for_events(sentry_server, 1)
        finally:
            server.stop()
            app.client.close(timeout=2)
    exc = only_exception(event)
    assert (exc["type"], exc["value"]) == ("ValueError", "raised by the Pylons app")
    assert event["server_name"] == "pylons-host"
    assert event["tags"]["site"] == "pylons-site"
    assert event["request"]["url"] == f"http://127.0.0.1:{server.port}/controller/action"
    assert event["request"]["headers"]["User-Agent"] == "pylons-test"


def test_list_from_setting() -> None:
    assert list_from_setting({"k": " a  b "}, "k") == ["a", "b"]
    assert list_from_setting({"k": ""}, "k") is None
    assert list_from_setting({}, "k") is None
