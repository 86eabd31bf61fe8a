"""raven 6.10's Bottle integration: ``raven.contrib.bottle.Sentry``, a WSGI wrapper of a Bottle app.

>>> import bottle
>>> from raven import Client
>>> from raven.contrib.bottle import Sentry
>>> app = Sentry(bottle.app(), Client('https://public@sentry.example.com/1'))

What it keeps from raven 6.10: an exception the app raises (``app.catchall = False``), or reports
through ``start_response``'s ``exc_info`` (Bottle's default catch-all 500 page), is captured with
the request (:mod:`raven.contrib.bottle.utils`) and ``extra['app']``, then re-raised or answered
as Bottle does; ``sentry.captureException`` / ``captureMessage`` add the current request's data
when called during a request; ``logging=True`` installs a ``SentryHandler`` on the root logger;
the wrapper is reachable as ``app.sentry``.

Better than raven 6.10: outside a request (in the thread that imported Bottle, where Bottle's
``request`` is bound to an environ without a request) no made-up ``request`` is added to the event; nothing
the wrapper does raises into the request (a failure to capture
is logged, rate-limited, to ``sentry.errors``); wrapping the same Bottle app again (a second
``Sentry(bottle.app(), ...)``, as tests and reloaders do) replaces ``app.sentry`` instead of
failing with Bottle's "Attribute sentry already defined. Plugin conflict?".

Importing this module imports Bottle (``pip install 'raven-ng[bottle]'``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, Callable, Optional

from raven.contrib._framework import require

require("bottle", "bottle", "raven.contrib.bottle")

from bottle import request  # noqa: E402

from raven.conf import setup_logging  # noqa: E402
from raven.contrib._facade import ClientFacade  # noqa: E402
from raven.contrib._safe import log_failure  # noqa: E402
from raven.contrib.bottle.utils import get_data_from_request  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402

__all__ = ("Sentry", "get_data_from_request", "request", "setup_logging", "SentryHandler")

_NAME = "bottle"


class Sentry(ClientFacade):
    """A Bottle application reporting its errors to Sentry (a WSGI application itself).

    >>> sentry = Sentry(app, client, logging=True)
    >>> sentry.captureMessage('hello, world!')
    """

    def __init__(self, app: Any, client: Any, logging: bool = False) -> None:
        self.app = app
        self.client = client
        self.logging = logging
        if self.logging:
            setup_logging(SentryHandler(self.client))
        try:
            self.app.sentry = self
        except AttributeError:
            # Bottle refuses to redefine an attribute ("Plugin conflict?"); this is a re-wrap.
            self.app.__dict__["sentry"] = self

    def handle_exception(self, *args: Any, **kwargs: Any) -> None:
        """Capture ``exc_info=`` with the current request and ``extra['app']``."""
        try:
            self.client.captureException(
                exc_info=kwargs.get("exc_info"),
                data=get_data_from_request(request),
                extra={"app": self.app},
            )
        except Exception:
            log_failure(_NAME, "capturing an exception")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def session_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            if exc_info is not None:
                self.handle_exception(exc_info=exc_info)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, session_start_response)
        except Exception:
            self.handle_exception(exc_info=sys.exc_info())
            raise

    def _with_request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("data") is None:
            try:
                if "REQUEST_METHOD" in request.environ:  # else the importing thread's unbound request
                    kwargs["data"] = get_data_from_request(request)
            except RuntimeError:
                pass  # not during a request
            except Exception:
                log_failure(_NAME, "reading the request")
        return kwargs

    def _capture(self, method: str, *args: Any, **kwargs: Any) -> Optional[str]:
        return super()._capture(method, *args, **self._with_request(kwargs))
