"""raven.contrib.paste's filter in a Paste Deploy pipeline loaded from an ini file (through the
``egg:raven-ng#raven`` entry point), served by a real WSGI server, with its
events at a loopback Sentry server; and the ini strings read as the Client's types."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

import pytest

loadapp = pytest.importorskip("paste.deploy").loadapp

from contrib_support import WSGIServer, only_exception, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

from raven.contrib.paste import client_options, sentry_filter_factory  # noqa: E402
from raven.middleware import Sentry  # noqa: E402


def failing_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise ZeroDivisionError("raised behind the Paste filter")


def make_app(global_conf: Any, **local_conf: Any) -> Any:
    return failing_app


INI = """
[pipeline:main]
pipeline = sentry app

[filter:sentry]
use = {use}
dsn = {dsn}
release = paste-1.0
include_paths = test_paste_filter other.package
install_sys_hook = false
install_logging_hook = off

[app:app]
use = call:test_paste_filter:make_app
"""


def test_filter_in_a_pipeline(tmp_path: Path) -> None:
    hook = sys.excepthook
    with LoopbackServer() as sentry_server:
        ini = tmp_path / "app.ini"
        ini.write_text(INI.format(use="egg:raven-ng#raven", dsn=sentry_server.dsn()), encoding="utf-8")
        app = loadapp(f"config:{ini}")
        assert isinstance(app, Sentry)
        assert app.client.include_paths == {"test_paste_filter", "other.package"}
        assert sys.excepthook is hook  # "false" is false
        server = WSGIServer(app)
        try:
            assert server.get("/divide?by=0").status == 500
            assert app.client.flush(10)
            [event] = wait_for_events(sentry_server, 1)
        finally:
            server.stop()
            app.client.close(timeout=2)
    exc = only_exception(event)
    assert (exc["type"], exc["value"]) == ("ZeroDivisionError", "raised behind the Paste filter")
    assert event["release"] == "paste-1.0"
    assert event["request"]["url"] == f"http://127.0.0.1:{server.port}/divide"
    assert event["request"]["query_string"] in ("by=0", [["by", "0"]])


def test_ini_strings_become_client_types() -> None:
    options = client_options(
        {
            "install_sys_hook": "No",
            "auto_log_stacks": "true",
            "processors": "a.B c.D",
            "name": "web-1",
            "x": 1,
        }
    )
    assert options == {
        "install_sys_hook": False,
        "auto_log_stacks": True,
        "processors": ["a.B", "c.D"],
        "name": "web-1",
        "x": 1,
    }
    middleware = sentry_filter_factory(failing_app, {}, install_sys_hook="0", install_logging_hook="0")
    try:
        assert middleware.application is failing_app and not middleware.client.is_enabled()
    finally:
        middleware.client.close(timeout=0)
