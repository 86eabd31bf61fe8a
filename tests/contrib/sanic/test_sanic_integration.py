"""raven.contrib.sanic against current Sanic, in a child process (Sanic runs its own event loop and
configures logging; none of it may leak into this process): its server on 127.0.0.1 answers real
HTTP requests (sanic-testing's client), and the events reach the loopback Sentry server of this
process. Asserted on what arrived: the exception, the request (URL, query string, method, JSON
or form body, headers, REMOTE_ADDR), X-Sentry-ID, captureException / captureMessage on the
extension, the logging integration; Sanic's 404 is not reported."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("sanic")
pytest.importorskip("sanic_testing")

from contrib_support import json_lines, only_exception, run_script, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sanic_child.py")


def test_sanic_application() -> None:
    with LoopbackServer() as server:
        result = run_script(CHILD, server.dsn(), timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        lines = json_lines(result.stdout)
        replies = {line["path"]: line for line in lines if "path" in line}
        events = {event["event_id"]: event for event in wait_for_events(server, 6)}

    assert len(events) == 6  # three errors, a capture, a message, a log record; not the 404
    assert replies["/missing/"]["status"] == 404 and replies["/missing/"]["sentry_id"] is None

    get = events[replies["/boom/"]["sentry_id"]]
    assert replies["/boom/"]["status"] == 500
    exc = only_exception(get)
    assert (exc["type"], exc["value"]) == ("ValueError", "boom in a Sanic handler")
    request = get["request"]
    assert request["url"].startswith("http://127.0.0.1:") and request["url"].endswith("/boom/")
    assert request["query_string"] in ("q=1", [["q", "1"]])
    assert request["method"] == "GET"
    assert request["headers"]["x-trace"] == "s-1"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"

    posted_json = events[replies["/boom/ json"]["sentry_id"]]
    assert posted_json["request"]["method"] == "POST"
    assert posted_json["request"]["data"] == {"order": 17}
    posted_form = events[replies["/boom/ form"]["sentry_id"]]
    assert posted_form["request"]["data"] == {"name": ["Ada"]}  # Sanic's parsed form, as raven 6.10 sent it

    [capture_body] = [line["capture_body"] for line in lines if "capture_body" in line]
    captured = events[replies["/capture/"]["sentry_id"]]
    assert capture_body == {"event_id": captured["event_id"], "last": captured["event_id"]}
    assert only_exception(captured)["type"] == "KeyError"
    assert captured["request"]["url"].endswith("/capture/")

    message = events[replies["/message/"]["sentry_id"]]
    assert message["logentry"]["formatted"] == "hello from Sanic"
    assert message["request"]["url"].endswith("/message/")

    [logged] = [event for event in events.values() if event.get("logger") == "sanic_child.app"]
    assert logged["logentry"]["formatted"] == "logged in a handler"

    [final] = [line for line in lines if "signalled" in line]
    assert final["signalled"] == [["exclude", "sentry_handler"]]
    assert final["outside_request"] == message["event_id"]
