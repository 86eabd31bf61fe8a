"""raven 6.10's report endpoint: browser (raven-js) events posted to the Django site and
forwarded by the server's client (``raven.contrib.django.urls``).

``report(request, project_id=None)`` takes the event as the JSON body of a POST, or as the
``sentry_data`` query parameter of a GET; OPTIONS answers the CORS preflight. The request's
``Origin`` must be allowed by ``SENTRY_ALLOW_ORIGIN``: ``'*'``, or a list of origins (strings,
compared without case) and compiled regular expressions; the answer then carries
``Access-Control-Allow-Origin``. The event's auth comes from ``X-Sentry-Auth``, else
``Authorization: Sentry ...``, else the ``sentry_*`` query parameters. Answers: 403 for an origin
not allowed, 400 for a missing or malformed body, 200 once handed to the client.

Better than raven 6.10: without ``SENTRY_ALLOW_ORIGIN`` every origin is refused (6.10 raised
``AttributeError``, a 500), and a body that is not a JSON object is a 400 (6.10 raised).
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any, Callable, Optional

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from raven.contrib.django.models import client

__all__ = ("extract_auth_vars", "is_valid_origin", "report", "with_origin")


def is_valid_origin(origin: Optional[str]) -> bool:
    """Whether ``SENTRY_ALLOW_ORIGIN`` allows ``origin``."""
    allowed = getattr(settings, "SENTRY_ALLOW_ORIGIN", None)
    if not allowed:
        return False
    if allowed == "*":
        return True
    if not origin:
        return False
    origin = origin.lower()
    for value in allowed:
        if isinstance(value, str):
            if value.lower() == origin:
                return True
        elif value.match(origin):
            return True
    return False


def with_origin(func: Callable[..., Any]) -> Callable[..., Any]:
    """403 unless the request's ``Origin`` is allowed; CORS headers on the answer."""

    @wraps(func)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        origin = request.META.get("HTTP_ORIGIN")
        if not is_valid_origin(origin):
            return HttpResponseForbidden()
        response = func(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    return wrapped


def extract_auth_vars(request: Any) -> Optional[str]:
    """The ``Sentry ...`` auth of a browser event (raven-js sends it either header, or in the
    query string)."""
    meta = request.META
    if meta.get("HTTP_X_SENTRY_AUTH", "").startswith("Sentry"):
        return str(meta["HTTP_X_SENTRY_AUTH"])
    if meta.get("HTTP_AUTHORIZATION", "").startswith("Sentry"):
        return str(meta["HTTP_AUTHORIZATION"])
    args = [
        f"{key}={value}"
        for key, value in request.GET.items()
        if key.startswith("sentry_") and key != "sentry_data"
    ]
    if args:
        return "Sentry " + ", ".join(args)
    return None


@csrf_exempt
@require_http_methods(["GET", "POST", "OPTIONS"])
@never_cache
@with_origin
def report(request: Any, project_id: Optional[str] = None) -> HttpResponse:
    if request.method == "OPTIONS":
        return HttpResponse()
    data: Any = request.body if request.method == "POST" else request.GET.get("sentry_data")
    if not data:
        return HttpResponseBadRequest()
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        decoded = json.loads(text)
    except ValueError:
        return HttpResponseBadRequest()
    if not isinstance(decoded, dict):
        return HttpResponseBadRequest()
    try:
        client.send(auth_header=extract_auth_vars(request), **decoded)
    except TypeError:  # a field the client's send() takes as an argument of its own
        return HttpResponseBadRequest()
    return HttpResponse()
