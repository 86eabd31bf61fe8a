"""The Django integration's parts on their own: the route resolver, template frames, SQL
breadcrumbs, serializers, the client proxy and ``get_client``, the request and user readers,
the middleware used the old way, the signal handler, the report view's origin check, the
Celery client."""

from __future__ import annotations

import io
import logging
import re
import sys
import uuid
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse, QueryDict
from django.test import RequestFactory, override_settings
from django.urls import include, path, re_path

from raven.contrib.django.client import DjangoClient


class RecordingClient(DjangoClient):
    """raven 6.10's test double: ``send`` keeps the events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.events: list[dict[str, Any]] = []
        kwargs.setdefault("install_sys_hook", False)
        super().__init__(*args, **kwargs)

    def send(self, **kwargs: Any) -> None:  # type: ignore[override]
        self.events.append(kwargs)

    def is_enabled(self) -> bool:
        return True


@pytest.fixture
def recording() -> Any:
    client = RecordingClient()
    yield client
    client.close(timeout=0)


def wsgi_request(
    method: str = "POST", body: bytes = b"", content_type: str = "text/plain", **extra: Any
) -> Any:
    environ = {
        "wsgi.input": io.BytesIO(body),
        "REQUEST_METHOD": method,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "PATH_INFO": "/somewhere/",
        "REMOTE_ADDR": "10.1.2.3",
        "wsgi.url_scheme": "http",
        **extra,
    }
    return WSGIRequest(environ)


# -- the resolver


def _view(request: Any) -> HttpResponse:
    return HttpResponse()


URLCONF = (
    re_path(r"^api/(?P<project_id>[\w_-]+)/store/$", _view),
    re_path(r"^report/", _view),
    re_path(r"^example/", include(([re_path(r"^foo/bar/(?P<param>[\w]+)", _view)], "example"))),
    re_path(r"^other/", include(([re_path(r"^foo/bar/(?P<param>[\w]+)", _view)], "other"))),
    path("api/v2/<int:project_id>/store/", _view),
    path("shop/<slug:category>/<uuid:item>/", _view),
    re_path(r"^archive/(\d{4})/(?:page-)?(\d+)/$", _view),
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/foo/bar", "/foo/bar"),
        ("/report/", "/report/"),
        ("/api/1234/store/", "/api/{project_id}/store/"),
        ("/example/foo/bar/baz", "/example/foo/bar/{param}"),
        ("/other/foo/bar/baz", "/other/foo/bar/{param}"),
        ("/api/v2/1234/store/", "/api/v2/{project_id}/store/"),
        (f"/shop/shoes/{uuid.UUID(int=1)}/", "/shop/{category}/{item}/"),
        ("/archive/2024/page-3/", "/archive/{var}/page-{var}/"),
    ],
)
def test_route_resolver(url: str, expected: str) -> None:
    from raven.contrib.django.resolver import RouteResolver

    assert RouteResolver().resolve(url, URLCONF) == expected


# -- template frames


def test_template_data_from_django_debug_info() -> None:
    from raven.contrib.django.utils import get_data_from_template

    debug = {
        "name": "/srv/app/templates/shop/cart.html",
        "line": 3,
        "source_lines": [(1, "a\n"), (2, "b\n"), (3, "{% bad %}\n"), (4, "d\n"), (5, "")],
    }
    data = get_data_from_template(None, debug)
    assert data == {
        "template": {
            "filename": "cart.html",
            "abs_path": "/srv/app/templates/shop/cart.html",
            "pre_context": ["a", "b"],
            "context_line": "{% bad %}",
            "lineno": 3,
            "post_context": ["d"],
        },
        "culprit": "shop/cart.html",
    }
    with pytest.raises(TypeError):
        get_data_from_template(None, None)


def test_get_host_ignores_allowed_hosts() -> None:
    from raven.contrib.django.utils import get_host

    assert get_host(wsgi_request(HTTP_HOST="evil.example")) == "evil.example"
    assert get_host(wsgi_request(SERVER_PORT="8080")) == "testserver:8080"


# -- SQL breadcrumbs


def test_format_sql() -> None:
    from raven.contrib.django.client import format_sql

    assert format_sql("SELECT %s, %s, %s", [None, "it's", 4]) == (
        "SELECT %s, %s, %s",
        ["NULL", "'it''s'", "4"],
    )
    assert format_sql("SELECT %(a)s", {"a": b"x"}) == ("SELECT %s", ["'x'"])
    assert format_sql("SELECT 1", {}) == ("SELECT 1", [])
    assert format_sql("SELECT %s", ["x" * 300])[1][0] == "'" + "x" * 256 + "\u2026'"


def test_queries_become_breadcrumbs(recording: Any) -> None:
    from django.contrib.auth.models import User

    recording.context.clear(deactivate=False)
    recording.context.activate()
    User.objects.filter(username="o'brien").exists()
    recording.captureMessage("after a query")

    crumbs = recording.events[-1]["breadcrumbs"]["values"]
    queries = [c for c in crumbs if c.get("category") == "query"]
    assert queries and "'o''brien'" in queries[-1]["message"]


def test_wrong_params_keep_the_query(recording: Any) -> None:
    from raven.contrib.django.client import record_sql

    recording.context.activate()
    query = "SELECT COUNT(*) FROM t WHERE id = %s"
    record_sql(None, None, None, None, query, ["foobar", 42])
    assert recording.context.breadcrumbs.get_buffer()[-1]["message"] == query


# -- serializers


def test_serializers() -> None:
    from django.contrib.auth.models import User
    from django.utils.functional import lazy
    from django.utils.translation import gettext_lazy

    from raven.contrib.django.models import register_serializers
    from raven.utils.serializer import transform

    register_serializers()
    assert transform(lazy(lambda: "bar", str)()) == "'bar'"
    assert transform({"k": gettext_lazy("testing")}) == {"'k'": "'testing'"}
    assert transform(User.objects.all()) == "<QuerySet: model=User>"
    assert re.fullmatch(r"<WSGIRequest at 0x[0-9a-f]+>", transform(wsgi_request()))


# -- the proxy and get_client


def test_proxy_stands_for_the_settings_client() -> None:
    from raven.contrib.django.models import client, get_client

    real = get_client()
    assert client == real and real == client
    assert hash(client) == hash(real)
    assert isinstance(client, DjangoClient)
    assert bool(client) is True
    assert client.is_enabled is not None
    client.some_attribute = 1
    assert real.some_attribute == 1
    del client.some_attribute
    assert not hasattr(real, "some_attribute")


def test_get_client_follows_sentry_client_and_falls_back() -> None:
    from raven.base import Client
    from raven.contrib.django.models import get_client

    default = get_client()
    assert get_client() is default
    temporary = get_client("raven.base.Client")
    assert type(temporary) is Client and get_client() is default
    temporary.close(timeout=0)
    assert get_client("no.such.Client") is default
    with override_settings(SENTRY_CLIENT=f"{__name__}.RecordingClient"):
        assert type(get_client()) is RecordingClient
    assert type(get_client()) is DjangoClient


def test_client_options_come_from_raven_config() -> None:
    from raven.contrib.django.models import get_client
    from raven.transport.http import HTTPTransport

    config = {
        "dsn": "http://public@127.0.0.1:9/1",
        "release": "r1",
        "environment": "e1",
        "transport": "raven.transport.http.HTTPTransport",
        "install_sys_hook": False,
    }
    try:
        with override_settings(RAVEN_CONFIG=config, SENTRY_TAGS={"region": "eu"}):
            client = get_client(reset=True)
            assert client.release == "r1" and client.environment == "e1"
            assert client.tags == {"region": "eu"}
            assert type(client.remote.get_transport()) is HTTPTransport
            assert "djangoapp" in client.include_paths
            assert client.get_public_dsn() == "//public@127.0.0.1:9/1"
            client.close(timeout=0)
    finally:
        get_client(reset=True)


def test_initialize_once_and_middleware_first() -> None:
    from django.conf import settings

    from raven.contrib.django.models import initialize, install_middleware

    initialize()
    initialize()
    assert settings.MIDDLEWARE[:2] == [
        "raven.contrib.django.middleware.DjangoRestFrameworkCompatMiddleware",
        "raven.contrib.django.middleware.SentryMiddleware",
    ]
    with override_settings(MIDDLEWARE=("a.B",)):
        install_middleware("x.Y")
        install_middleware("x.Y")
        assert settings.MIDDLEWARE == ("x.Y", "a.B")


# -- reading the request


def test_request_data_when_the_body_was_read(recording: Any) -> None:
    request = wsgi_request(body=b'{"foo": "bar"}\r\n\r\n', content_type="application/octet-stream")
    request.read(1)
    recording.captureMessage("foo", request=request)
    assert recording.events[-1]["request"]["data"] == "<unavailable>"

    request = wsgi_request(body=b"foo=bar&ham=spam", content_type="text/plain")
    request.POST = QueryDict("foo=bar&ham=spam&ham=eggs")
    request.read(1)
    recording.captureMessage("foo", request=request)
    assert recording.events[-1]["request"]["data"] == {"foo": "bar", "ham": ["spam", "eggs"]}


def test_request_interface_fields(recording: Any) -> None:
    request = wsgi_request(
        body="caf\u00e9".encode(),
        QUERY_STRING="a=1",
        HTTP_COOKIE="sessionid=s3cr3t; csrftoken=t0k3n; theme=dark",
        HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2",
    )
    data = recording.get_data_from_request(request)
    http = data["request"]
    assert http["url"] == "http://testserver/somewhere/"
    assert http["query_string"] == "a=1"
    assert http["data"] == "caf\u00e9"
    assert http["cookies"] == {"sessionid": "********", "csrftoken": "********", "theme": "dark"}
    assert http["headers"]["Cookie"] == "sessionid=********; csrftoken=********; theme=dark"
    assert http["env"] == {"REMOTE_ADDR": "10.1.2.3", "SERVER_NAME": "testserver", "SERVER_PORT": "80"}
    assert data["user"] == {"ip_address": "1.1.1.1"}


def test_disallowed_host_still_gives_a_url(recording: Any) -> None:
    request = wsgi_request(HTTP_HOST="not-allowed.example")
    with override_settings(ALLOWED_HOSTS=["good.example"]):
        assert (
            recording.get_data_from_request(request)["request"]["url"]
            == "http://not-allowed.example/somewhere/"
        )


class _User:
    def __init__(self, pk: Any, broken: bool = False) -> None:
        self.pk = pk
        self.email = "u@example.com"
        self._broken = broken

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_username(self) -> str:
        if self._broken:
            raise RuntimeError("database down")
        return "u"


def test_user_info_edge_cases(recording: Any) -> None:
    request = wsgi_request()
    pk = uuid.UUID(int=7)
    request.user = _User(pk)
    assert recording.get_user_info(request) == {
        "ip_address": "10.1.2.3",
        "id": str(pk),
        "email": "u@example.com",
        "username": "u",
    }
    request.user = _User(5, broken=True)
    assert recording.get_user_info(request) == {"ip_address": "10.1.2.3", "id": 5, "email": "u@example.com"}


def test_explicit_request_and_user_in_data_are_kept(recording: Any) -> None:
    data = {"user": {"id": "given"}}
    recording.captureMessage("m", request=wsgi_request(), data=data)
    assert recording.events[-1]["user"] == {"id": "given"}
    assert data == {"user": {"id": "given"}}  # not changed in place
    assert recording.events[-1]["request"]["method"] == "POST"


def test_capture_sets_request_sentry(recording: Any) -> None:
    request = wsgi_request()
    event_id = recording.captureMessage("m", request=request)
    assert request.sentry == {"project_id": None, "id": event_id}


# -- middleware, the old way


def test_middleware_built_without_get_response() -> None:
    from raven.contrib.django.middleware import (
        Sentry404CatchMiddleware,
        SentryMiddleware,
        SentryResponseErrorIdMiddleware,
    )

    request = RequestFactory().get("/x/")
    request.sentry = {"id": "abc"}
    response = SentryResponseErrorIdMiddleware().process_response(request, HttpResponse())
    assert response["X-Sentry-ID"] == "abc"
    assert Sentry404CatchMiddleware().process_response(request, HttpResponse(status=200)).status_code == 200

    middleware = SentryMiddleware()
    middleware.process_request(request)
    assert SentryMiddleware.thread.request is request
    middleware.request_finished()
    assert SentryMiddleware.thread.request is None


def test_404_middleware_returns_the_response_whatever_happens(monkeypatch: Any) -> None:
    from raven.contrib.django import middleware

    def broken() -> Any:
        raise RuntimeError("no client")

    monkeypatch.setattr(middleware, "_client", broken)
    response = HttpResponse(status=404)
    assert (
        middleware.Sentry404CatchMiddleware().process_response(RequestFactory().get("/x/"), response)
        is response
    )


def test_drf_compat_middleware_keeps_the_body() -> None:
    from raven.contrib.django.middleware import DjangoRestFrameworkCompatMiddleware

    request = wsgi_request(body=b'{"a": "b"}', content_type="application/json")
    DjangoRestFrameworkCompatMiddleware().process_request(request)
    request.read()  # a framework consumes the stream ...
    assert request.body == b'{"a": "b"}'  # ... the body is still there


# -- the signal handler


def test_exception_handler_honours_ignore_exceptions(recording: Any) -> None:
    from raven.contrib.django.models import SentryDjangoHandler

    handler = SentryDjangoHandler(recording)
    for ignore, sent in ((set(), 1), ({"ValueError"}, 0), ({"builtins.*"}, 0), ({"builtins.ValueError"}, 0)):
        recording.events.clear()
        recording.ignore_exceptions = ignore
        try:
            raise ValueError("lol world")
        except ValueError:
            handler.exception_handler(request=wsgi_request())
        assert len(recording.events) == sent


def test_exception_handler_never_raises(caplog: Any) -> None:
    from raven.contrib.django.models import SentryDjangoHandler

    class Broken:
        def captureException(self, **kwargs: Any) -> None:  # noqa: N802
            raise RuntimeError("broken client")

    caplog.set_level(logging.ERROR, logger="sentry.errors.client")
    SentryDjangoHandler(Broken()).exception_handler(request=None)
    assert "broken client" in caplog.text


def test_same_exception_twice_is_sent_once(recording: Any) -> None:
    from raven.contrib.django.models import SentryDjangoHandler

    first, second = SentryDjangoHandler(recording), SentryDjangoHandler(recording)
    try:
        raise KeyError("once")
    except KeyError:
        first.exception_handler(request=None)
        second.exception_handler(request=None)
    assert len(recording.events) == 1


# -- the report view's origin check


@pytest.mark.parametrize(
    ("setting", "origin", "valid"),
    [
        (None, "http://example.com", False),
        ("*", "http://example.com", True),
        (["http://example.com"], "HTTP://EXAMPLE.COM", True),
        (["http://example.com"], "http://other.com", False),
        ([re.compile(r"https?\://(.*\.)?example\.com")], "http://www.example.com", True),
        (["http://example.com"], None, False),
    ],
)
def test_is_valid_origin(setting: Any, origin: Any, valid: bool) -> None:
    from raven.contrib.django.views import is_valid_origin

    with override_settings(SENTRY_ALLOW_ORIGIN=setting):
        assert is_valid_origin(origin) is valid


# -- the Celery client


def test_celery_client_hands_the_event_to_the_task(monkeypatch: Any) -> None:
    from raven.contrib.django import celery

    sent: list[Any] = []

    class FakeTask:
        def delay(self, *args: Any, **kwargs: Any) -> None:
            sent.append((args, kwargs))

    monkeypatch.setattr(celery, "send_raw", FakeTask())
    client = celery.CeleryClient(dsn="http://public:secret@127.0.0.1:9/1", install_sys_hook=False)
    try:
        client.send_encoded("foo")
        client.captureMessage("test")
    finally:
        client.close(timeout=0)
    assert sent[0] == (("foo",), {})
    (packed,), kwargs = sent[1]
    assert set(packed) == {"__raven_b64__"}  # bytes travel as JSON-safe text


def test_celery_task_sends_with_the_settings_client(http_server: Any, configure_sentry: Any) -> None:
    from raven.contrib.django import celery

    real = configure_sentry(http_server.dsn())
    message = real.encode({"message": "from a worker", "level": logging.ERROR, "event_id": uuid.uuid4().hex})
    task = celery.send_raw
    run = getattr(task, "run", task)
    run(celery._pack(message))
    assert real.flush(10)
    events = http_server.events()
    assert len(events) == 1
    assert "from a worker" in str(events[0])


def test_sys_modules_clean() -> None:
    assert "raven.contrib.django" in sys.modules
