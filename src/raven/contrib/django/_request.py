"""The ``request`` and ``user`` of an event, read from a Django request (raven 6.10's
``DjangoClient.get_data_from_request`` / ``get_user_info``, which delegate here).

``request``: ``method``, ``url`` (absolute, as ``build_absolute_uri``; when the Host header is
refused by ``ALLOWED_HOSTS`` it is rebuilt from the headers anyway), ``query_string``,
``data`` (the body, for methods other than GET and HEAD), ``cookies``, ``headers`` (the
``HTTP_*`` and content headers) and ``env`` (``REMOTE_ADDR``, ``SERVER_NAME``, ``SERVER_PORT``).
The body is the text of ``request.body``; when the application already read the stream
(``request.read()``), the parsed form (``request.POST``) stands in for it, else
``'<unavailable>'``, as in raven 6.10.

``user``: ``ip_address`` (first ``X-Forwarded-For`` address, else ``REMOTE_ADDR``), and for an
authenticated ``request.user`` its ``id`` (primary key), ``email`` and ``username``
(``get_username()``). A broken user object (a lazy user whose database query fails) leaves
only what could be read.

Better than raven 6.10: the values of the session and CSRF cookies (``SESSION_COOKIE_NAME``,
``CSRF_COOKIE_NAME``) are masked, in ``cookies`` and in the ``Cookie`` header (whoever reads
the events could otherwise take over the sessions); ``url`` has no query string (it is in
``query_string``; 6.10 sent it in both); the body is text (6.10 sent the bytes); a multipart
body is sent as its form fields rather than the raw bytes of uploaded files; and a primary key
that is not a number or a string (a UUID) is sent as its text.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.utils.datastructures import MultiValueDict

from raven.contrib.django.utils import get_host
from raven.utils.wsgi import get_client_ip, get_environ, get_headers

__all__ = ("UNAVAILABLE", "get_user_info", "is_authenticated", "request_interface")

UNAVAILABLE = "<unavailable>"
MASK = "*" * 8


def is_authenticated(request_user: Any) -> bool:
    """``user.is_authenticated`` (a property since Django 1.10, a method before)."""
    value = request_user.is_authenticated
    return bool(value() if callable(value) else value)


def get_user_info(request: Any) -> dict[str, Any]:
    """The event's ``user`` for ``request``."""
    info: dict[str, Any] = {"ip_address": get_client_ip(request.META)}
    user = getattr(request, "user", None)
    if user is None:
        return info
    try:
        if not is_authenticated(user):
            return info
        pk = user.pk
        info["id"] = pk if pk is None or isinstance(pk, (int, str)) else str(pk)
        if hasattr(user, "email"):
            info["email"] = user.email
        if hasattr(user, "get_username"):
            info["username"] = user.get_username()
        elif hasattr(user, "username"):
            info["username"] = user.username
    except Exception:
        # User objects can be broken in many ways (a lazy user whose query fails ...): keep
        # what could be read.
        pass
    return info


def _absolute_url(request: Any) -> str:
    try:
        url = str(request.build_absolute_uri())
    except SuspiciousOperation:
        scheme = "https" if request.is_secure() else "http"
        url = f"{scheme}://{get_host(request)}{request.path}"
    return url.split("?", 1)[0]


def _form_dict(form: Any) -> Any:
    if isinstance(form, MultiValueDict):
        return {key: values[0] if len(values) == 1 else values for key, values in form.lists()}
    return form


def _body(request: Any) -> Any:
    """The request body for the event (see the module's docstring)."""
    content_type = str(request.META.get("CONTENT_TYPE", ""))
    if content_type.startswith("multipart/"):
        try:
            return _form_dict(request.POST) or UNAVAILABLE
        except Exception:
            return UNAVAILABLE
    try:
        body = request.body
    except Exception:
        # The stream was read by the application (or is too big to keep): the parsed form, if any.
        try:
            return _form_dict(request.POST) or UNAVAILABLE
        except Exception:
            return UNAVAILABLE
    if isinstance(body, (bytes, bytearray)):
        encoding = str(getattr(request, "encoding", None) or "utf-8")
        try:
            return bytes(body).decode(encoding, "replace")
        except LookupError:
            return bytes(body).decode("utf-8", "replace")
    return body


def _secret_cookies() -> frozenset[str]:
    names = (
        getattr(settings, "SESSION_COOKIE_NAME", "sessionid"),
        getattr(settings, "CSRF_COOKIE_NAME", "csrftoken"),
    )
    return frozenset(str(name) for name in names if name)


def _masked_header(value: Any, secret: frozenset[str]) -> Any:
    if not isinstance(value, str):
        return value
    parts = []
    for part in value.split(";"):
        name, sep, _ = part.partition("=")
        parts.append(f"{name}={MASK}" if sep and name.strip() in secret else part)
    return ";".join(parts)


def request_interface(request: Any) -> dict[str, Any]:
    """The event's ``request`` for ``request``."""
    meta = request.META
    secret = _secret_cookies()
    cookies = {name: MASK if name in secret else value for name, value in request.COOKIES.items()}
    headers = dict(get_headers(meta))
    if "Cookie" in headers:
        headers["Cookie"] = _masked_header(headers["Cookie"], secret)
    return {
        "method": request.method,
        "url": _absolute_url(request),
        "query_string": meta.get("QUERY_STRING"),
        "data": None if request.method in ("GET", "HEAD") else _body(request),
        "cookies": cookies,
        "headers": headers,
        "env": dict(get_environ(meta)),
    }
