"""raven 6.10's Tornado integration, for Tornado 6: ``raven.contrib.tornado``.

    from raven.contrib.tornado import AsyncSentryClient, SentryMixin

    class MainHandler(SentryMixin, tornado.web.RequestHandler):
        def get(self):
            ...

    app = tornado.web.Application([(r"/", MainHandler)])
    app.sentry_client = AsyncSentryClient(dsn)

:class:`AsyncSentryClient` (:mod:`.client`) sends on the running IOLoop through raven-ng's
Tornado transport; its captures return ``(event_id, future)`` (:mod:`.outcomes`).
:class:`SentryMixin` (:mod:`.mixin`) adds the request and user to the handler's events and
reports the exceptions its methods raise.

Importing this module imports Tornado; without it, ``ImportError`` names ``raven-ng[tornado]``.
"""

from __future__ import annotations

from functools import partial  # noqa: F401  (raven 6.10's module namespace)

from raven.contrib._framework import require

require("tornado.web", "tornado", "raven.contrib.tornado")

from tornado import ioloop  # noqa: E402, F401
from tornado.httpclient import AsyncHTTPClient, HTTPError  # noqa: E402, F401
from tornado.web import HTTPError as WebHTTPError  # noqa: E402, F401

from raven.base import Client  # noqa: E402, F401
from raven.contrib.tornado.client import AsyncSentryClient  # noqa: E402
from raven.contrib.tornado.mixin import SentryMixin  # noqa: E402

__all__ = ("AsyncSentryClient", "SentryMixin")
