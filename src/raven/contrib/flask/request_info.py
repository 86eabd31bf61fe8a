"""What the Flask integration reads from a request: the event's ``request`` and ``user``.

raven 6.10's rules, kept:

- ``request``: the URL without its query, the query string, the method, the headers, and
  ``REMOTE_ADDR`` / ``SERVER_NAME`` / ``SERVER_PORT``; ``data`` is the JSON body as text when the
  mimetype is JSON, else the parsed form fields (never the uploaded files); a client that
  disconnects while the body is read gives ``{}``.
- ``user``: ``ip_address`` is the first address of the ``X-Forwarded-For`` route (else
  ``REMOTE_ADDR``); with flask-login installed and set up on the app (``app.login_manager``),
  an authenticated ``current_user`` adds ``id`` (``get_id()``) and each attribute named in
  ``SENTRY_USER_ATTRS`` that it has.

Better than raven 6.10: form fields become a plain dict (one value: the string; a repeated
field: the list of its values; raven 6.10 kept the first only); ``application/*+json`` counts as
JSON, as for Flask's ``request.is_json``; a JSON body is read only when its length is known and at
most :data:`MAX_BODY_BYTES` (raven 6.10 read any body into memory in ``before_request``), a larger
one is described instead.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from werkzeug.exceptions import ClientDisconnected

from raven.contrib._http import http_interface
from raven.contrib.flask import login

__all__ = (
    "MAX_BODY_BYTES",
    "form_data",
    "http_info",
    "is_json_mimetype",
    "json_body",
    "plain_form",
    "user_info",
)

#: The largest JSON body read into the event (bytes).
MAX_BODY_BYTES = 1024 * 1024


def is_json_mimetype(mimetype: Optional[str]) -> bool:
    """``application/json`` or ``application/<anything>+json``."""
    if not mimetype:
        return False
    if mimetype == "application/json":
        return True
    return mimetype.startswith("application/") and mimetype.endswith("+json")


def plain_form(form: Any) -> Any:
    """A werkzeug ``MultiDict`` as a plain dict (a repeated key keeps all its values); anything
    else as it is."""
    lists = getattr(form, "lists", None)
    if lists is None:
        return form
    return {key: values[0] if len(values) == 1 else list(values) for key, values in lists()}


def form_data(request: Any) -> Any:
    """The parsed form fields of ``request``."""
    return plain_form(request.form)


def json_body(request: Any) -> Any:
    """The body of a JSON request as text, when its declared length is at most :data:`MAX_BODY_BYTES`."""
    length = request.content_length
    if length is None or length > MAX_BODY_BYTES:
        return f"[body not captured: {'unknown length' if length is None else f'{length} bytes'}]"
    return request.get_data(cache=True, as_text=True)


def http_info(request: Any, retriever: Callable[[Any], Any]) -> dict[str, Any]:
    """raven 6.10's ``request`` for a Flask request, its ``data`` from ``retriever(request)``."""
    try:
        data = retriever(request)
    except ClientDisconnected:
        data = {}
    return http_interface(request.url, request.method, plain_form(data), request.environ)


def user_info(request: Any, app: Any) -> dict[str, Any]:
    """raven 6.10's ``user`` for a Flask request of ``app``."""
    user: dict[str, Any] = {}
    route = request.access_route
    address = route[0] if route else request.remote_addr
    if address:
        user["ip_address"] = address
    if not login.has_flask_login or not hasattr(app, "login_manager"):
        return user
    current = login.current_user
    try:
        authenticated = current.is_authenticated
    except AttributeError:
        return user  # flask-login not set up for this request
    if callable(authenticated):  # flask-login before 0.3 had methods
        authenticated = authenticated()
    if not authenticated:
        return user
    user["id"] = current.get_id()
    for attr in app.config.get("SENTRY_USER_ATTRS", ()):
        if hasattr(current, attr):
            user[attr] = getattr(current, attr)
    return user
