"""What ``ZopeSentryHandler`` finds on the stack of a log call: the Zope request being published
and the exception being handled, and what it reads from them.

raven 6.10's search, kept: from the ``emit`` call outwards, the first local named ``request``
(else the ``request`` attribute of a local ``self``, a view) and the first local ``exc_info`` that
can be indexed.

What is read from a Zope ``HTTPRequest`` (``stdin``, ``environ``, ``getURL()``, ``method``,
``get('AUTHENTICATED_USER')``): the body (``stdin`` read from the start, its position put back),
the URL, the method and the query string, as raven 6.10 did; the user's ``getId()`` and its
``email`` property, unless it is the anonymous ``nobody``.

Better than raven 6.10, which sent the whole WSGI environ as the request's headers (objects
included) and the client address in a ``host`` field Sentry does not have: the headers are the
environ's ``HTTP_*`` entries (and content type/length), the addresses go in ``env``; a user
object without ``getProperty`` (a plain Zope user) still gives its id; a failure to read one of
the two (request, user) keeps the other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import Any, Optional

from raven.utils.wsgi import get_environ, get_headers

__all__ = ("find_request_and_exc_info", "http_interface", "user_interface")

logger = logging.getLogger("raven.contrib.zope")


def _outer_frames(start: Optional[FrameType]) -> Iterator[FrameType]:
    frame = start
    while frame is not None:
        yield frame
        frame = frame.f_back


def find_request_and_exc_info(start: Optional[FrameType]) -> tuple[Any, Any]:
    """``(request, exc_info)`` found in the locals of ``start`` and the frames calling it."""
    request: Any = None
    exc_info: Any = None
    for frame in _outer_frames(start):
        local = frame.f_locals
        if not request:
            request = local.get("request")
            if not request:
                try:
                    request = getattr(local.get("self"), "request", None)
                except Exception:  # a view whose ``request`` property fails (raven caught RuntimeError)
                    request = None
        if not exc_info:
            candidate = local.get("exc_info")
            exc_info = candidate if hasattr(candidate, "__getitem__") else None
        if request and exc_info:
            break
    return request, exc_info


def _body(request: Any) -> Any:
    stdin = request.stdin
    position = stdin.tell()
    try:
        stdin.seek(0)
        return stdin.read()
    finally:
        stdin.seek(position)


def http_interface(request: Any) -> dict[str, Any]:
    """The event's ``request`` for a Zope ``HTTPRequest``."""
    environ: Mapping[str, Any] = request.environ
    http: dict[str, Any] = {
        "url": request.getURL(),
        "method": request.method,
        "data": _body(request),
        "headers": dict(get_headers(environ)),
        "env": dict(get_environ(environ)),
    }
    if "QUERY_STRING" in environ:
        http["query_string"] = environ["QUERY_STRING"]
    return http


def user_interface(request: Any, anonymous: Any) -> dict[str, Any]:
    """The event's ``user`` for the request's authenticated user; ``{}`` for ``anonymous``."""
    user = request.get("AUTHENTICATED_USER", None)
    if user is None or user == anonymous:
        return {}
    info: dict[str, Any] = {"id": user.getId()}
    get_property = getattr(user, "getProperty", None)
    email = get_property("email") if get_property is not None else None
    info["email"] = email or ""
    return info
