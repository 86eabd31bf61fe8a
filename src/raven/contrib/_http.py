"""The event's ``request`` (raven 6.10's HTTP interface) as the WSGI framework integrations built
it: the URL without its query, the query string, the method, the body the framework parsed, the
request headers and the client/server addresses from the WSGI environ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from raven.utils.wsgi import get_environ, get_headers

__all__ = ("http_interface", "url_without_query")


def url_without_query(url: str) -> tuple[str, str]:
    """``(scheme://host/path, query)`` of ``url`` (the fragment is dropped)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parts.query


def http_interface(url: str, method: Any, data: Any, environ: Mapping[str, Any]) -> dict[str, Any]:
    """raven 6.10's ``request`` for a WSGI request whose full URL is ``url``."""
    base, query = url_without_query(url)
    return {
        "url": base,
        "query_string": query,
        "method": method,
        "data": data,
        "headers": dict(get_headers(environ)),
        "env": dict(get_environ(environ)),
    }
