"""raven.contrib.tornado in a real Tornado application: each scenario runs in its own child process
(``children/tornado_app_child.py``: an app on a free 127.0.0.1 port, ``SentryMixin`` handlers, an
``AsyncSentryClient``, real HTTP requests to it); the loopback Sentry server runs here. What
arrived at the server is asserted."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline import normalizer_errors
from servers import Answer, LoopbackServer

pytest.importorskip("tornado.web")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loops"))

from harness import run_child  # noqa: E402

CHILDREN = Path(os.path.dirname(__file__)) / "children"
CHILD = "tornado_app_child.py"


def run(scenario: str, **params: Any) -> dict[str, Any]:
    return run_child(CHILD, scenario, timeout=90, children=CHILDREN, **params)


def by_path(events: list[dict[str, Any]], path: str) -> dict[str, Any]:
    (event,) = [e for e in events if e.get("request", {}).get("url", "").split("?")[0].endswith(path)]
    return event


def test_handler_errors_and_captures_reach_the_server_with_request_and_user(
    http_server: LoopbackServer,
) -> None:
    result = run("app", dsn=http_server.dsn())
    responses = result["responses"]
    assert {name: r["code"] for name, r in responses.items()} == {
        "boom": 500,
        "404": 404,
        "503": 503,
        "manual": 200,
        "message": 200,
        "callback": 200,
    }
    assert result["flushed"] is True
    assert result["stats"] == {"sent": 5, "lost": {}}
    assert result["hooks"] == [["success"]] * 5
    base = f"http://127.0.0.1:{result['port']}"

    events = http_server.events()
    assert len(events) == 5  # the 404 is not reported
    for event in events:
        assert normalizer_errors(event) in (None, [])
        assert event["request"]["env"] == {"REMOTE_ADDR": "127.0.0.1"}

    boom = by_path(events, "/boom")  # raised in the handler: Tornado's log_exception
    assert boom["request"]["url"] == f"{base}/boom?x=1"
    assert boom["request"]["method"] == "GET"
    assert boom["request"]["query_string"] == "x=1"
    assert boom["request"]["cookies"] is None
    assert boom["user"]["data"] == {"is_authenticated": False}
    assert boom["exception"]["values"][-1]["value"] == "the stock service is down"
    assert boom["exception"]["values"][-1]["stacktrace"]["frames"][-1]["function"] == "get"

    error_503 = by_path(events, "/http-error")
    assert error_503["request"]["query_string"] == "code=503"
    assert error_503["exception"]["values"][-1]["type"] == "HTTPError"

    manual = by_path(events, "/manual")  # self.captureException() in the handler
    assert manual["event_id"] == responses["manual"]["body"]["event_id"]
    assert manual["request"]["method"] == "POST"
    assert manual["request"]["data"] == "qty=two"
    assert manual["request"]["cookies"] == "session=s1"
    assert manual["request"]["headers"]["X-Request-Id"] == "r-9"
    assert manual["user"]["id"] == "7"  # the user set in prepare()
    assert manual["user"]["username"] == "ana"
    assert manual["user"]["email"] == "ana@example.com"
    assert manual["user"]["data"] == {"is_authenticated": True}
    assert manual["extra"]["cart"] == "c-1"
    assert manual["exception"]["values"][-1]["type"] == "ValueError"

    message = by_path(events, "/message")  # awaited the future of captureMessage in the handler
    body = responses["message"]["body"]
    assert body["delivered"] == body["event_id"] == message["event_id"]
    assert message["logentry"]["formatted"] == "checkout is slow"
    assert message["level"] == "warning"

    callback = by_path(events, "/callback")  # captureMessage(..., callback=...)
    assert responses["callback"]["body"]["callback"] == callback["event_id"]


@pytest.mark.parametrize(
    ("answer", "error", "lost"),
    [
        (Answer(status=500), ["error", "APIError", 500], {"send_error:error": 2}),
        (
            Answer(status=429, headers={"X-Sentry-Rate-Limits": "60:error:key"}),
            ["error", "RateLimited", 429],
            {"ratelimit_backoff:error": 2},
        ),
    ],
    ids=["500", "429"],
)
def test_a_lost_event_fails_its_future_and_calls_failed_send(
    http_server: LoopbackServer, answer: Answer, error: list[Any], lost: dict[str, int]
) -> None:
    # 429: the second event is dropped before any request (the limit); its future fails too.
    http_server.default = answer
    result = run("outcomes", dsn=http_server.dsn(), captures=2)

    assert [r["outcome"] for r in result["results"]] == [error, error]
    assert [r["callback"] for r in result["results"]] == [[None], [None]]
    assert result["hooks"] == [["failure", error[1], error[2], r["event_id"]] for r in result["results"]]
    assert result["stats"] == {"sent": 0, "lost": lost}
    sent = [e["event_id"] for e in http_server.events()]
    assert sent == [r["event_id"] for r in result["results"]][: len(sent)]
    assert len(sent) == (1 if answer.status == 429 else 2)


def test_captured_on_a_thread_without_a_loop(http_server: LoopbackServer) -> None:
    result = run("off_loop", dsn=http_server.dsn())

    assert result["future_type"] == "concurrent.futures._base.Future"
    assert result["result"] == result["event_id"]
    assert [e["event_id"] for e in http_server.events()] == [result["event_id"]]


def test_validate_cert_false_accepts_a_self_signed_server(https_server: LoopbackServer) -> None:
    result = run("validate_cert", dsn=https_server.dsn())

    assert result["result"] == result["event_id"]
    assert [e["event_id"] for e in https_server.events()] == [result["event_id"]]
