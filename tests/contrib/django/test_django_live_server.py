"""The project served by a real WSGI server (wsgiref, threaded, on 127.0.0.1): requests made over
HTTP reach the loopback Sentry server with the request and the user; the WSGI wrapper
``raven.contrib.django.middleware.wsgi.Sentry`` reports what escapes Django."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, Optional

import pytest
from django.test import Client as TestClient


def fetch(url: str, cookie: Optional[str] = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "urllib-live/1.0"})
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_view_exception_over_http(sentry: Any, live_server: Any, user: Any) -> None:
    browser = TestClient()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    status, headers, _ = fetch(f"{live_server.url}/items/42/boom/?ref=live", cookie)

    assert status == 500
    event = sentry.event()
    assert headers["X-Sentry-ID"] == event["event_id"]
    assert event["exception"]["values"][-1]["value"] == "boom from the view (GET)"
    assert event["transaction"] == "/items/{item_id}/boom/"
    request = event["request"]
    assert request["url"] == f"{live_server.url}/items/42/boom/"
    assert request["query_string"] in ("ref=live", [["ref", "live"]])
    assert dict(request["headers"])["User-Agent"] == "urllib-live/1.0"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert event["user"] == {
        "id": str(user.pk),
        "username": "alice",
        "email": "alice@example.com",
        "ip_address": "127.0.0.1",
    }


def test_404_over_http(sentry: Any, live_server: Any) -> None:
    status, headers, _ = fetch(f"{live_server.url}/nowhere/")

    assert status == 404
    event = sentry.event()
    assert headers["X-Sentry-ID"] == event["event_id"]
    assert event["logger"] == "http404"
    assert event["request"]["url"] == f"{live_server.url}/nowhere/"


def test_requests_in_server_threads_keep_their_own_request(sentry: Any, live_server: Any) -> None:
    for number in range(3):
        assert fetch(f"{live_server.url}/message/?n={number}")[0] == 200

    events = sentry.events(3)
    assert sorted(e["request"]["query_string"] for e in events) in (
        ["n=0", "n=1", "n=2"],
        [[["n", "0"]], [["n", "1"]], [["n", "2"]]],
    )
    assert all(e["transaction"] == "/message/" for e in events)


def test_wsgi_wrapper_reports_what_escapes_django(sentry: Any, live_server_factory: Any) -> None:
    from raven.contrib.django.middleware.wsgi import Sentry

    def broken_app(environ: dict[str, Any], start_response: Any) -> Any:
        raise RuntimeError("the WSGI stack broke")

    server = live_server_factory(Sentry(broken_app))

    status, _, _ = fetch(f"{server.url}/anything/?x=1")

    assert status == 500
    event = sentry.event()
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["request"]["url"] == f"{server.url}/anything/"
    assert event["request"]["method"] == "GET"


def test_wsgi_wrapper_around_django_sends_one_event(sentry: Any, live_server_factory: Any) -> None:
    from django.core.wsgi import get_wsgi_application

    from raven.contrib.django.middleware.wsgi import Sentry

    server = live_server_factory(Sentry(get_wsgi_application()))

    assert fetch(f"{server.url}/ok/")[0] == 200
    assert fetch(f"{server.url}/items/1/boom/")[0] == 500

    assert sentry.client.flush(10)
    events = sentry.server.events()
    assert len(events) == 1
    assert events[0]["transaction"] == "/items/{item_id}/boom/"


@pytest.mark.parametrize("path", ["/ok/", "/dsn/"])
def test_healthy_pages_send_nothing(sentry: Any, live_server: Any, path: str) -> None:
    assert fetch(f"{live_server.url}{path}")[0] == 200
    sentry.nothing_sent()
