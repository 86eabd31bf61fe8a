"""raven 6.10's ``raven.contrib.webpy.utils.get_data_from_request``: the event's ``request`` for the
current web.py request, from ``web.ctx``: ``protocol://host/path``, the query string as web.py
keeps it (with its leading ``?``, as raven 6.10 sent it; Sentry drops the ``?``), the method, the
raw body (``web.data()``), the headers and the client/server addresses."""

from __future__ import annotations

from typing import Any

from raven.contrib._framework import require

web = require("web", "webpy", "raven.contrib.webpy")

from raven.utils.wsgi import get_environ, get_headers  # noqa: E402

__all__ = ("get_data_from_request", "get_headers", "get_environ")


def get_data_from_request() -> dict[str, Any]:
    """``{'request': ...}`` for the request web.py is handling in this thread."""
    ctx = web.ctx
    return {
        "request": {
            "url": f"{ctx['protocol']}://{ctx['host']}{ctx['path']}",
            "query_string": ctx.query,
            "method": ctx.method,
            "data": web.data(),
            "headers": dict(get_headers(ctx.environ)),
            "env": dict(get_environ(ctx.environ)),
        }
    }
