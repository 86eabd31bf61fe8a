"""raven 6.10's ``match_hostname``: does a peer certificate (``SSLSocket.getpeercert()``) name a host?

The rules of RFC 6125 as Python's removed ``ssl.match_hostname`` applied them: the DNS names of
``subjectAltName`` (the common name only when there is none), one ``*`` at most and only in the
leftmost label (a lone ``*`` matches one whole label; no wildcard matching of IDNA ``xn--``
labels), case-insensitive. An IP address matches the certificate's ``IP Address`` entries
(raven 6.10 refused IP addresses outright). ``CertificateError`` is :class:`ssl.CertificateError`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from ssl import CertificateError
from typing import Any, Optional, Union

__all__ = ("CertificateError", "match_hostname")

_MAX_WILDCARDS = 1


def _dnsname_match(pattern: str, hostname: str) -> bool:
    if not pattern:
        return False
    leftmost, _, rest = pattern.partition(".")
    wildcards = leftmost.count("*")
    if wildcards > _MAX_WILDCARDS:
        # More than one wildcard per label: refuse (regular expression blow-up).
        raise CertificateError(f"too many wildcards in certificate DNS name: {pattern!r}")
    if not wildcards:
        return pattern.lower() == hostname.lower()
    if leftmost == "*":
        first = "[^.]+"
    elif leftmost.lower().startswith("xn--") or hostname.lower().startswith("xn--"):
        first = re.escape(leftmost)
    else:
        first = re.escape(leftmost).replace(r"\*", "[^.]*")
    labels = [first] + [re.escape(label) for label in rest.split(".")] if rest else [first]
    return re.fullmatch(r"\.".join(labels), hostname, re.IGNORECASE) is not None


def _ip(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def match_hostname(cert: Mapping[str, Any], hostname: str) -> None:
    """Return if ``cert`` is valid for ``hostname``; raise ``CertificateError`` otherwise
    (ValueError for an empty certificate)."""
    if not cert:
        raise ValueError("empty or no certificate")
    host_ip = _ip(hostname)
    names: list[str] = []
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "DNS":
            if host_ip is None and _dnsname_match(value, hostname):
                return
            names.append(value)
        elif kind == "IP Address":
            if host_ip is not None and _ip(value) == host_ip:
                return
            names.append(value)
    if not names:  # the subject's common name counts only without DNS or IP entries
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    if host_ip is None and _dnsname_match(value, hostname):
                        return
                    names.append(value)
    if not names:
        raise CertificateError("no appropriate commonName or subjectAltName fields were found")
    if len(names) == 1:
        raise CertificateError(f"hostname {hostname!r} doesn't match {names[0]!r}")
    raise CertificateError(f"hostname {hostname!r} doesn't match either of {', '.join(map(repr, names))}")
