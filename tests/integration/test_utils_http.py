"""raven.utils.http.urlopen against loopback servers: POST with a body, timeout, HTTP errors, and
TLS verification (a throw-away CA: verified, refused, name checks, assert_hostname)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from servers import Answer

from raven.utils.http import urlopen


def test_post_reaches_the_server(http_server: Any) -> None:
    request = urllib.request.Request(f"{http_server.url}/api/1/store/", headers={"X-Test": "1"})
    response = urlopen(request, data=b'{"a": 1}', timeout=5)
    assert response.status == 200
    [received] = http_server.wait_for_requests(1)
    assert received.method == "POST"
    assert received.raw_body == b'{"a": 1}'
    assert received.headers["x-test"] == "1"


def test_error_status_raises_http_error(http_server: Any) -> None:
    http_server.script(Answer(status=429, headers={"Retry-After": "3"}))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urlopen(f"{http_server.url}/api/1/store/", data=b"{}", timeout=5)
    assert raised.value.code == 429
    assert raised.value.headers["Retry-After"] == "3"


def test_timeout_bounds_the_wait(silent_server: Any) -> None:
    with pytest.raises((urllib.error.URLError, TimeoutError, OSError)):
        urlopen(f"http://127.0.0.1:{silent_server.port}/", data=b"{}", timeout=0.3)


def test_https_verified_against_ca_certs(https_server: Any, ca_pem: str) -> None:
    response = urlopen(f"{https_server.url}/", data=b"{}", timeout=5, ca_certs=ca_pem, verify_ssl=True)
    assert response.status == 200


def test_https_unknown_ca_is_refused_when_verifying(https_server: Any) -> None:
    # certifi's bundle does not know the throw-away CA.
    with pytest.raises(urllib.error.URLError) as raised:
        urlopen(f"{https_server.url}/", data=b"{}", timeout=5, verify_ssl=True)
    assert isinstance(raised.value.reason, ssl.SSLError)


def test_https_without_verification_as_raven610s_default(https_server: Any) -> None:
    assert urlopen(f"{https_server.url}/", data=b"{}", timeout=5).status == 200


def test_https_wrong_hostname_is_refused(https_server_wrong_host: Any, ca_pem: str) -> None:
    url = f"{https_server_wrong_host.url}/"
    with pytest.raises(urllib.error.URLError) as raised:
        urlopen(url, data=b"{}", timeout=5, ca_certs=ca_pem, verify_ssl=True)
    assert isinstance(raised.value.reason, ssl.CertificateError)
    # assert_hostname names the host the certificate must be valid for instead.
    response = urlopen(
        url, data=b"{}", timeout=5, ca_certs=ca_pem, verify_ssl=True, assert_hostname="sentry.other.invalid"
    )
    assert response.status == 200
    with pytest.raises(urllib.error.URLError) as pinned:
        urlopen(url, data=b"{}", timeout=5, ca_certs=ca_pem, verify_ssl=True, assert_hostname="else.invalid")
    assert isinstance(pinned.value.reason, ssl.CertificateError)
    assert "else.invalid" in str(pinned.value.reason)
