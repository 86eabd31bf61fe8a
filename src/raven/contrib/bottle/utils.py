"""raven 6.10's ``raven.contrib.bottle.utils.get_data_from_request``: the event's ``request`` for
the current Bottle request (URL without its query, query string, method, form fields with the
last value of a repeated field, as raven 6.10 kept, headers, and the client/server addresses)."""

from __future__ import annotations

import logging
from typing import Any

from raven.contrib._http import http_interface
from raven.utils.compat import urlparse
from raven.utils.wsgi import get_environ, get_headers

__all__ = ("get_data_from_request", "logger", "urlparse", "get_headers", "get_environ")

logger = logging.getLogger(__name__)


def _form_fields(request: Any) -> dict[str, Any]:
    try:
        fields = request.forms.dict  # a field's values, in the order sent
        return {key: fields[key][-1] for key in fields}
    except Exception:
        return {}


def get_data_from_request(request: Any) -> dict[str, Any]:
    """``{'request': ...}`` for ``request`` (Bottle's thread-local ``bottle.request``)."""
    return {"request": http_interface(request.url, request.method, _form_fields(request), request.environ)}
