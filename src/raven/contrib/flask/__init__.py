"""raven 6.10's Flask integration: ``raven.contrib.flask.Sentry``.

>>> from raven.contrib.flask import Sentry
>>> sentry = Sentry(app, dsn='https://public@sentry.example.com/1')

or, with an application factory, ``sentry = Sentry()`` then ``sentry.init_app(app)``.

What it keeps from raven 6.10 (see :mod:`raven.contrib.flask.extension` for each step): the
client built from ``app.config`` (``SENTRY_CONFIG`` / ``SENTRY_*`` names, the DSN, the app's
import name in ``include_paths``, ``RAVEN_IGNORE_EXCEPTIONS``); unhandled exceptions captured from
Flask's ``got_request_exception`` signal, and the WSGI app wrapped in raven's middleware (not in
debug mode); every event captured during a request carries the request (URL, query string,
method, form fields or the JSON body, headers, ``REMOTE_ADDR`` / ``SERVER_NAME`` /
``SERVER_PORT``) and the user (the client's address, and flask-login's ``current_user`` id and
``SENTRY_USER_ATTRS`` when flask-login is installed); ``sentry.captureException`` /
``captureMessage`` remember the event id in ``g.sentry_event_id`` (``sentry.last_event_id``) and
the response carries it as ``X-Sentry-ID``; ``logging=True`` installs a ``SentryHandler`` on the
root logger and sends the ``logging_configured`` blinker signal.

Importing this module imports Flask (``pip install 'raven-ng[flask]'``); ``import raven`` and
``import raven.contrib`` do not.
"""

from __future__ import annotations

from raven.contrib._framework import require

require("flask", "flask", "raven.contrib.flask")
require("blinker", "flask", "raven.contrib.flask")

import blinker  # noqa: E402
from flask import current_app, g, request  # noqa: E402
from flask.signals import got_request_exception, request_finished  # noqa: E402
from werkzeug.exceptions import ClientDisconnected  # noqa: E402

from raven.base import Client  # noqa: E402
from raven.conf import setup_logging  # noqa: E402
from raven.contrib.flask.extension import Sentry, make_client  # noqa: E402
from raven.contrib.flask.login import current_user, has_flask_login  # noqa: E402
from raven.contrib.flask.signals import logging_configured, raven_signals  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402
from raven.middleware import Sentry as SentryMiddleware  # noqa: E402
from raven.utils.compat import urlparse  # noqa: E402
from raven.utils.conf import convert_options  # noqa: E402
from raven.utils.encoding import to_unicode  # noqa: E402
from raven.utils.wsgi import get_environ, get_headers  # noqa: E402

__all__ = (
    "Sentry",
    "make_client",
    "logging_configured",
    "raven_signals",
    "has_flask_login",
    "current_user",
    # raven 6.10's module namespace, which code and tests patch or import from here
    "blinker",
    "request",
    "current_app",
    "g",
    "got_request_exception",
    "request_finished",
    "ClientDisconnected",
    "Client",
    "setup_logging",
    "SentryMiddleware",
    "SentryHandler",
    "urlparse",
    "to_unicode",
    "get_headers",
    "get_environ",
    "convert_options",
)
