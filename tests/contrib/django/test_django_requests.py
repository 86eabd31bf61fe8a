"""Requests through Django's test client reach a loopback Sentry server with the request and user.

The project is ``djangoapp/`` (``'raven.contrib.django.raven_compat'`` installed, the 404 and
``X-Sentry-ID`` middleware, the logging handler on ``django.request``); the settings' client
sends to a LoopbackServer. What is asserted is what the server received (and Sentry's
normalizer accepts every event: see ``Sentry.events``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.test import Client as TestClient


def browser(**kwargs: Any) -> TestClient:
    """A test client that answers 500 instead of re-raising the view's exception."""
    return TestClient(raise_request_exception=False, HTTP_USER_AGENT="pytest-browser/1.0", **kwargs)


def test_view_exception_is_reported_with_request_and_transaction(sentry: Any) -> None:
    response = browser().get("/items/7/boom/?q=1&page=2", HTTP_X_TRACE="abc")

    assert response.status_code == 500
    event = sentry.event()
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "boom from the view (GET)"
    assert exception["mechanism"]["handled"] is True
    assert event["level"] == "error"
    assert event["transaction"] == "/items/{item_id}/boom/"
    assert event["release"] == "djangoapp@1.2.3"
    assert event["environment"] == "testing"
    request = event["request"]
    assert request["method"] == "GET"
    assert request["url"] == "http://testserver/items/7/boom/"
    assert request["query_string"] in ("q=1&page=2", [["q", "1"], ["page", "2"]])
    headers = dict(request["headers"])
    assert headers["User-Agent"] == "pytest-browser/1.0"
    assert headers["X-Trace"] == "abc"
    env = request["env"]
    assert env["SERVER_NAME"] == "testserver"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert event["user"] == {"ip_address": "127.0.0.1"}
    # django.* frames are never in-app; the view's frame is.
    frames = exception["stacktrace"]["frames"]
    assert all(not f.get("in_app") for f in frames if (f.get("module") or "").startswith("django."))
    assert any(f.get("in_app") and f.get("function") == "boom" for f in frames)


def test_sentry_id_header_on_500(sentry: Any) -> None:
    response = browser().get("/items/1/boom/")

    event = sentry.event()
    assert response.status_code == 500
    assert response["X-Sentry-ID"] == event["event_id"]


def test_regex_route_names_the_transaction(sentry: Any) -> None:
    browser().post("/legacy/summer-sale/boom/", {"coupon": "SUMMER"})

    event = sentry.event()
    assert event["transaction"] == "/legacy/{slug}/boom/"
    request = event["request"]
    assert request["method"] == "POST"
    assert request["data"] in ("coupon=SUMMER", {"coupon": "SUMMER"})


def test_post_body_is_sent_as_text(sentry: Any) -> None:
    browser().post("/items/3/boom/", data='{"order": 17}', content_type="application/json")

    request = sentry.event()["request"]
    assert request["data"] in ('{"order": 17}', {"order": 17})
    assert dict(request["headers"])["Content-Type"] == "application/json"


def test_authenticated_user_is_sent(sentry: Any, user: Any) -> None:
    client = browser()
    client.force_login(user)

    client.get("/items/9/boom/")

    event = sentry.event()
    assert event["user"] == {
        "id": str(user.pk),
        "username": "alice",
        "email": "alice@example.com",
        "ip_address": "127.0.0.1",
    }
    # The session cookie's value does not reach Sentry.
    request = event["request"]
    cookies = request["cookies"]
    cookies = dict(cookies) if isinstance(cookies, list) else cookies
    assert set(cookies) == {"sessionid"}
    assert client.cookies["sessionid"].value not in str(request)


def test_forwarded_for_gives_the_ip_address(sentry: Any) -> None:
    browser().get("/items/1/boom/", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1")

    assert sentry.event()["user"]["ip_address"] == "203.0.113.9"


def test_404_is_reported_by_the_middleware(sentry: Any) -> None:
    response = browser().get("/no/such/page/?from=test")

    assert response.status_code == 404
    event = sentry.event()
    assert event["level"] == "info"
    assert event["logger"] == "http404"
    assert event["logentry"]["message"] == "Page Not Found: http://testserver/no/such/page/"
    assert event["request"]["url"] == "http://testserver/no/such/page/"
    assert event["request"]["method"] == "GET"
    assert response["X-Sentry-ID"] == event["event_id"]


def test_ignorable_404_is_not_reported(sentry: Any, settings_override: Any) -> None:
    import re

    with settings_override(IGNORABLE_404_URLS=[re.compile(r"\.php$")]):
        response = browser().get("/wp-login.php")

    assert response.status_code == 404
    assert "X-Sentry-ID" not in response
    sentry.nothing_sent()


def test_ignore_exceptions_from_raven_config(sentry: Any) -> None:
    response = browser().get("/ignored/")

    assert response.status_code == 500
    assert "X-Sentry-ID" not in response
    sentry.nothing_sent()


def test_view_exception_is_sent_once_although_django_request_logs_it(sentry: Any) -> None:
    # LOGGING routes django.request (which logs every unhandled exception) to SentryHandler,
    # and the got_request_exception signal captures it too: one event.
    browser().get("/items/5/boom/")

    assert sentry.client.flush(10)
    events = sentry.server.events()
    assert len(events) == 1
    assert events[0]["exception"]["values"][-1]["value"] == "boom from the view (GET)"


def test_capture_in_a_view_carries_the_request(sentry: Any) -> None:
    response = browser().get("/message/?x=1")

    event = sentry.event()
    assert response.content.decode() == event["event_id"]
    assert event["logentry"]["message"] == "captured in a view"
    assert event["request"]["url"] == "http://testserver/message/"
    assert event["transaction"] == "/message/"


def test_template_error_has_the_template_frame(sentry: Any) -> None:
    browser().get("/template-error/")

    event = sentry.event()
    assert event["exception"]["values"][-1]["type"] == "TemplateSyntaxError"
    template = event["template"]
    assert template["filename"] == "error.html"
    assert template["abs_path"].endswith("djangoapp/templates/error.html")
    assert template["lineno"] == 5
    assert template["context_line"] == "{% invalid_tag %}"
    assert template["pre_context"] == ["2", "3", "4"]
    assert template["post_context"] == ["6", "7"]
    assert event["culprit"] == "error.html"


def test_logging_handler_from_logging_settings(sentry: Any) -> None:
    browser().get("/log/")

    event = sentry.event()
    assert event["logger"] == "djangoapp.audit"
    assert event["level"] == "error"
    assert event["logentry"]["message"] == "audit failed for %s"
    assert event["logentry"]["params"] == ["order-17"]
    assert event["tags"]["handler"] == "logging"
    assert event["request"]["url"] == "http://testserver/log/"
    assert event["user"] == {"ip_address": "127.0.0.1"}


def test_raven_contrib_django_handlers_path(sentry: Any) -> None:
    browser().get("/log/?logger=djangoapp.plain")

    event = sentry.event()
    assert event["logger"] == "djangoapp.plain"
    assert event["request"]["query_string"] in ("logger=djangoapp.plain", [["logger", "djangoapp.plain"]])


def test_log_record_outside_a_request(sentry: Any) -> None:
    logging.getLogger("djangoapp.audit").error("nightly job failed: %d rows", 3)

    event = sentry.event()
    assert event["logentry"]["formatted"] == "nightly job failed: 3 rows"
    assert "request" not in event


def test_template_tag_renders_the_public_dsn(sentry: Any) -> None:
    response = browser().get("/dsn/")

    port = sentry.server.port
    assert response.content.decode().strip() == (
        f"relative=[//public@127.0.0.1:{port}/1] https=[https://public@127.0.0.1:{port}/1]"
    )


def test_template_tag_is_empty_without_dsn(configure_sentry: Any) -> None:
    configure_sentry(None)

    assert browser().get("/dsn/").content.decode().strip() == "relative=[] https=[]"


def test_no_dsn_nothing_is_sent_and_nothing_breaks(configure_sentry: Any, http_server: Any) -> None:
    configure_sentry(None)

    assert browser().get("/items/1/boom/").status_code == 500
    assert browser().get("/missing/").status_code == 404
    assert browser().get("/ok/").status_code == 200
    assert http_server.requests == []


def test_js_report_endpoint_forwards_browser_events(sentry: Any) -> None:
    body = '{"message": "from the browser", "level": "warning", "platform": "javascript"}'

    forbidden = browser().post(
        "/sentry/api/1/store/", body, content_type="application/json", HTTP_ORIGIN="http://evil.example"
    )
    allowed = browser().post(
        "/sentry/api/1/store/", body, content_type="application/json", HTTP_ORIGIN="http://app.example.com"
    )
    malformed = browser().post(
        "/sentry/api/1/store/", "[1", content_type="application/json", HTTP_ORIGIN="http://app.example.com"
    )

    assert forbidden.status_code == 403
    assert malformed.status_code == 400
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "http://app.example.com"
    event = sentry.event()
    assert event["level"] == "warning"
    assert "from the browser" in str(event.get("logentry") or event.get("message"))


def test_asgi_request_is_reported_with_request_and_transaction(sentry: Any) -> None:
    import asyncio

    from django.test import AsyncClient

    async def requests() -> tuple[Any, Any]:
        browser = AsyncClient(raise_request_exception=False)
        return await browser.get("/items/11/boom/?via=asgi"), await browser.get("/message/")

    failed, captured = asyncio.run(requests())

    assert failed.status_code == 500
    events = sentry.events(2)
    by_id = {event["event_id"]: event for event in events}
    error = by_id[failed["X-Sentry-ID"]]
    assert error["transaction"] == "/items/{item_id}/boom/"
    assert error["request"]["url"] == "http://testserver/items/11/boom/"
    message = by_id[captured.content.decode()]
    assert message["transaction"] == "/message/"
    assert message["request"]["url"] == "http://testserver/message/"


def test_nothing_of_a_request_is_left_behind(sentry: Any) -> None:
    from raven.contrib.django.middleware import SentryMiddleware

    for path in ("/message/", "/items/1/boom/", "/missing/", "/ok/"):
        browser().get(path)
        assert len(sentry.client.transaction) == 0
        assert SentryMiddleware.thread.request is None
        assert sentry.client.context.get() == {}
