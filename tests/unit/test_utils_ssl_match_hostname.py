"""raven.utils.ssl_match_hostname: RFC 6125 name checks on decoded peer certificates."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from raven.utils.ssl_match_hostname import CertificateError, match_hostname


def cert(*san: tuple[str, str], cn: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {"subject": ((("commonName", cn),),) if cn else ()}
    if san:
        result["subjectAltName"] = san
    return result


@pytest.mark.parametrize(
    ("certificate", "hostname"),
    [
        (cert(("DNS", "example.com")), "example.com"),
        (cert(("DNS", "Example.COM")), "example.com"),
        (cert(("DNS", "*.example.com")), "www.example.com"),
        (cert(("DNS", "w*.example.com")), "www.example.com"),
        (cert(("DNS", "other.org"), ("DNS", "example.com")), "example.com"),
        (cert(cn="example.com"), "example.com"),
        (cert(("IP Address", "127.0.0.1")), "127.0.0.1"),
        (cert(("IP Address", "0:0:0:0:0:0:0:1")), "::1"),
    ],
)
def test_matches(certificate: dict[str, Any], hostname: str) -> None:
    match_hostname(certificate, hostname)


@pytest.mark.parametrize(
    ("certificate", "hostname", "message"),
    [
        (cert(("DNS", "example.com")), "evil.com", "doesn't match 'example.com'"),
        (cert(("DNS", "*.example.com")), "a.b.example.com", "doesn't match"),
        (cert(("DNS", "*.example.com")), "example.com", "doesn't match"),
        (cert(("DNS", "xn--*.example.com")), "xn--abc.example.com", "doesn't match"),
        (cert(("DNS", "a.com"), ("DNS", "b.com")), "c.com", "either of 'a.com', 'b.com'"),
        (cert(("DNS", "other.org"), cn="example.com"), "example.com", "doesn't match"),  # CN ignored
        (cert(("DNS", "127.0.0.1")), "127.0.0.1", "doesn't match"),  # an IP needs an IP entry
        (cert(), "example.com", "no appropriate"),
        (cert(("DNS", "*.*.example.com")), "a.b.example.com", "doesn't match"),  # only the leftmost label
        (cert(("DNS", "a*b*.example.com")), "axbx.example.com", "too many wildcards"),
    ],
)
def test_mismatches(certificate: dict[str, Any], hostname: str, message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        match_hostname(certificate, hostname)


def test_empty_certificate_and_error_type() -> None:
    with pytest.raises(ValueError, match="empty"):
        match_hostname({}, "example.com")
    assert CertificateError is ssl.CertificateError
    assert issubclass(CertificateError, ValueError)
