"""raven 6.10's ``urlopen``: one urllib request with the transport's TLS options.

raven 6.10's HTTP transport sent through this helper; raven-ng's transports keep persistent
connections instead (:mod:`raven._runtime.connection`), and this stays for code that calls it.
It differs from raven 6.10 where 6.10 was broken: verification works on Python 3.12+ (6.10 used
the removed ``ssl.wrap_socket``), sends SNI and checks the hostname, and ``ca_certs=None`` means
certifi's bundle. ``verify_ssl`` still defaults to False, as in raven 6.10's signature.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.request
from typing import Any, Optional

from raven._delivery.dsn import TransportOptions
from raven._runtime.connection import tls_context
from raven.conf import defaults
from raven.utils.ssl_match_hostname import match_hostname

__all__ = ("urlopen",)


def _pinned_name_handler(context: ssl.SSLContext, hostname: str) -> urllib.request.HTTPSHandler:
    """An HTTPS handler that checks the certificate against ``hostname`` instead of the URL's host."""

    class PinnedNameConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["context"] = context
            super().__init__(*args, **kwargs)

        def connect(self) -> None:
            super().connect()
            assert isinstance(self.sock, ssl.SSLSocket)
            match_hostname(self.sock.getpeercert() or {}, hostname)

    class PinnedNameHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(PinnedNameConnection, req)

    return PinnedNameHandler()


def urlopen(
    url: Any,
    data: Optional[bytes] = None,
    timeout: float = defaults.TIMEOUT,
    ca_certs: Optional[str] = None,
    verify_ssl: bool = False,
    assert_hostname: Optional[str] = None,
) -> Any:
    """Open ``url`` (a URL or a ``urllib.request.Request``; POST when ``data`` is given).

    ``verify_ssl``: check the server's certificate against ``ca_certs`` (default: certifi's
    bundle) and its name against the URL's host, or against ``assert_hostname`` when given.
    Returns urllib's response; raises ``urllib.error.HTTPError`` for an error status and
    ``urllib.error.URLError`` / ``OSError`` when no answer came, as urllib does.
    """
    options = TransportOptions(verify_ssl=bool(verify_ssl), ca_certs=ca_certs or None)
    handler: urllib.request.HTTPSHandler
    if verify_ssl and assert_hostname:
        pinned = ssl.create_default_context(cafile=options.ca_bundle())
        pinned.check_hostname = False  # checked against assert_hostname after the handshake
        handler = _pinned_name_handler(pinned, assert_hostname)
    else:
        handler = urllib.request.HTTPSHandler(context=tls_context(options))
    opener = urllib.request.build_opener(handler)
    return opener.open(url, data, timeout)
