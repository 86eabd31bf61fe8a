"""What the Sanic integration reads from a request: the event's ``request``.

raven 6.10's fields, kept: the URL without its query, the query string, the method, ``data`` (the
parsed JSON body when the content type is ``application/json``, else the form fields, each a list
of values as Sanic parses them; ``{}`` when the body cannot be parsed), the cookies and headers,
and ``env['REMOTE_ADDR']``.

Better than raven 6.10: headers and cookies become plain dicts of strings (raven 6.10 passed
Sanic's multi-dicts, which are not JSON); ``REMOTE_ADDR`` is the peer's address when Sanic has no
proxy-given ``remote_addr`` (raven 6.10 sent an empty string behind no proxy).
"""

from __future__ import annotations

from typing import Any, Callable

from raven.contrib._http import url_without_query

__all__ = ("cookies", "form_data", "headers", "http_info", "is_json", "json_data")


def is_json(request: Any) -> bool:
    return bool(request.headers.get("content-type") == "application/json")


def form_data(request: Any) -> Any:
    return dict(request.form)


def json_data(request: Any) -> Any:
    return request.json


def headers(request: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in request.headers.items()}


def cookies(request: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, values in dict.items(request.cookies):
        value = values[0] if isinstance(values, list) and values else values
        found[str(key)] = str(value)
    return found


def http_info(request: Any, retriever: Callable[[Any], Any]) -> dict[str, Any]:
    """raven 6.10's ``request`` for a Sanic request, its ``data`` from ``retriever(request)``."""
    base, query = url_without_query(request.url)
    try:
        data = retriever(request)
    except Exception:
        data = {}
    return {
        "url": base,
        "query_string": query,
        "method": request.method,
        "data": data,
        "cookies": cookies(request),
        "headers": headers(request),
        "env": {"REMOTE_ADDR": request.remote_addr or request.ip},
    }
