"""raven.utils.wsgi: headers, environ, host, URL and client address from a WSGI environ."""

from __future__ import annotations

from typing import Any

import pytest

from raven.utils.wsgi import get_client_ip, get_current_url, get_environ, get_headers, get_host


def test_get_headers_takes_http_and_content_keys_only() -> None:
    environ: dict[Any, Any] = {
        "HTTP_ACCEPT": "text/plain",
        "HTTP_X_REQUEST_ID": "abc",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "134",
        "HTTP_CONTENT_TYPE": "forged",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": object(),
        ("a", "tuple"): "ignored",
    }
    assert dict(get_headers(environ)) == {
        "Accept": "text/plain",
        "X-Request-Id": "abc",
        "Content-Type": "application/json",
        "Content-Length": "134",
    }


def test_get_environ_keeps_the_listed_keys() -> None:
    environ = {"REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "example.com", "SERVER_PORT": 80, "wsgi.input": "x"}
    assert dict(get_environ(environ)) == {
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": 80,
    }


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        ({"HTTP_X_FORWARDED_HOST": "proxy.example", "HTTP_HOST": "inner"}, "proxy.example"),
        ({"HTTP_HOST": "example.com"}, "example.com"),
        ({"wsgi.url_scheme": "http", "HTTP_HOST": "example.com:80"}, "example.com"),
        ({"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": "443"}, "example.com"),
        ({"wsgi.url_scheme": "http", "SERVER_NAME": "example.com", "SERVER_PORT": "81"}, "example.com:81"),
        ({"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": 8443}, "example.com:8443"),
    ],
)
def test_get_host(environ: dict[str, Any], host: str) -> None:
    assert get_host(environ) == host


def test_get_current_url() -> None:
    environ = {
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "localhost",
        "SCRIPT_NAME": "/script/",
        "PATH_INFO": "/a path",
        "QUERY_STRING": "param=foo",
    }
    assert get_current_url(environ) == "http://localhost/script/a%20path?param=foo"
    assert get_current_url(environ, strip_querystring=True) == "http://localhost/script/a%20path"
    assert get_current_url(environ, root_only=True) == "http://localhost/script/"
    assert get_current_url(environ, host_only=True) == "http://localhost/"


def test_get_client_ip() -> None:
    assert get_client_ip({"REMOTE_ADDR": "127.0.0.1"}) == "127.0.0.1"
    assert (
        get_client_ip({"HTTP_X_FORWARDED_FOR": "1.1.1.1, 127.0.0.1", "REMOTE_ADDR": "10.0.0.1"}) == "1.1.1.1"
    )
    assert get_client_ip({}) is None
