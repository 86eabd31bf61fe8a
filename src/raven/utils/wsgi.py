"""raven 6.10's WSGI helpers: request headers, URL, host and client address from a WSGI environ.

The WSGI middleware (:mod:`raven.middleware`) and framework integrations build an event's
``request`` from these.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional
from urllib.parse import quote

__all__ = ("get_client_ip", "get_current_url", "get_environ", "get_headers", "get_host")

#: The environ keys (besides headers) that go into an event's ``request.env``.
ENVIRON_KEYS = ("REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT")

# CONTENT_TYPE / CONTENT_LENGTH are headers without the HTTP_ prefix; a client-sent
# "HTTP_CONTENT_TYPE" would be a forgery of them and is skipped.
_UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")
_DEFAULT_PORTS = (("http", "80"), ("https", "443"))


def _header_name(cgi_name: str) -> str:
    # "ACCEPT_LANGUAGE" -> "Accept-Language"
    return cgi_name.replace("_", "-").title()


def get_headers(environ: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """The HTTP request headers in ``environ``, as ``(Header-Name, value)`` pairs."""
    for key, value in environ.items():
        key = str(key)
        if key.startswith("HTTP_"):
            if key[5:] not in _UNPREFIXED_HEADERS:
                yield _header_name(key[5:]), value
        elif key in _UNPREFIXED_HEADERS:
            yield _header_name(key), value


def get_environ(environ: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """The few environ entries worth sending (client address, server name and port)."""
    for key in ENVIRON_KEYS:
        if key in environ:
            yield key, environ[key]


def get_host(environ: Mapping[str, Any]) -> str:
    """The host the client asked for: ``X-Forwarded-Host``, else ``Host``, else the server's name
    and port; the scheme's default port is left out."""
    scheme = environ.get("wsgi.url_scheme")
    if "HTTP_X_FORWARDED_HOST" in environ:
        host = str(environ["HTTP_X_FORWARDED_HOST"])
    elif "HTTP_HOST" in environ:
        host = str(environ["HTTP_HOST"])
    else:
        host = str(environ["SERVER_NAME"])
        port = str(environ["SERVER_PORT"])
        if (scheme, port) not in _DEFAULT_PORTS:
            host = f"{host}:{port}"
    for default_scheme, default_port in _DEFAULT_PORTS:
        suffix = ":" + default_port
        if scheme == default_scheme and host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def get_current_url(
    environ: Mapping[str, Any],
    root_only: bool = False,
    strip_querystring: bool = False,
    host_only: bool = False,
) -> str:
    """The URL of the request: ``scheme://host/script/path?query``.

    ``host_only``: ``scheme://host/``; ``root_only``: up to the application root
    (``SCRIPT_NAME``); ``strip_querystring``: without ``?query``.
    """
    url = f"{environ['wsgi.url_scheme']}://{get_host(environ)}"
    if host_only:
        return url + "/"
    url += quote(str(environ.get("SCRIPT_NAME", "")).rstrip("/"))
    if root_only:
        return url + "/"
    url += quote("/" + str(environ.get("PATH_INFO", "")).lstrip("/"))
    query = environ.get("QUERY_STRING")
    if query and not strip_querystring:
        url += f"?{query}"
    return url


def get_client_ip(environ: Mapping[str, Any]) -> Optional[str]:
    """The first address of ``X-Forwarded-For``, else ``REMOTE_ADDR``.

    The header is whatever the client sent: do not rely on it for anything security-related.
    """
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded is not None:
        return str(forwarded).split(",")[0].strip()
    remote: Optional[str] = environ.get("REMOTE_ADDR")
    return remote
