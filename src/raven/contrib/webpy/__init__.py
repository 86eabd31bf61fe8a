"""raven 6.10's web.py integration: ``raven.contrib.webpy.SentryApplication``, a ``web.application``
that reports the exceptions its handlers raise.

>>> from raven.contrib.webpy import SentryApplication
>>> app = SentryApplication(client, mapping=urls, fvars=globals())

What it keeps from raven 6.10: ``SentryApplication(client, logging=False, **kwargs)`` (``kwargs``
go to ``web.application``); an exception raised while handling a request is captured with the
request (:mod:`raven.contrib.webpy.utils`) and ``extra['app']``, then re-raised, so web.py
answers its 500 as usual; ``captureException`` / ``captureMessage`` add the current request's
data; ``logging=True`` installs a ``SentryHandler`` on the root logger.

Better than raven 6.10: ``web.HTTPError`` raised by a handler (``raise web.seeother(...)``,
``web.notfound()``) is web.py's way of answering, not an error, and is not reported (raven 6.10
reported every redirect); a failure to capture is logged (rate-limited, ``sentry.errors``), never
raised into the request.

Importing this module imports web.py (``pip install 'raven-ng[webpy]'``).
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from raven.contrib._framework import require

web = require("web", "webpy", "raven.contrib.webpy")

from raven.conf import setup_logging  # noqa: E402
from raven.contrib._facade import ClientFacade  # noqa: E402
from raven.contrib._safe import log_failure  # noqa: E402
from raven.contrib.webpy.utils import get_data_from_request  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402

__all__ = ("SentryApplication", "get_data_from_request", "setup_logging", "SentryHandler", "web")

_NAME = "webpy"


class SentryApplication(ClientFacade, web.application):  # type: ignore[name-defined]
    """A ``web.application`` reporting its errors to Sentry.

    >>> app = SentryApplication(client, logging=True, mapping=urls, fvars=globals())
    >>> app.captureMessage('hello, world!')
    """

    def __init__(self, client: Any, logging: bool = False, **kwargs: Any) -> None:
        self.client = client
        self.logging = logging
        if self.logging:
            setup_logging(SentryHandler(self.client))
        web.application.__init__(self, **kwargs)

    def handle_exception(self, *args: Any, **kwargs: Any) -> None:
        """Capture ``exc_info=`` with the current request and ``extra['app']``."""
        try:
            self.client.captureException(
                exc_info=kwargs.get("exc_info"),
                data=get_data_from_request(),
                extra={"app": self},
            )
        except Exception:
            log_failure(_NAME, "capturing an exception")

    def handle(self) -> Any:
        try:
            return web.application.handle(self)
        except web.HTTPError:
            raise  # web.py's redirects and error pages
        except Exception:
            self.handle_exception(exc_info=sys.exc_info())
            raise

    def _with_request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("data") is None:
            try:
                kwargs["data"] = get_data_from_request()
            except Exception:
                log_failure(_NAME, "reading the request")
        return kwargs

    def _capture(self, method: str, *args: Any, **kwargs: Any) -> Optional[str]:
        return super()._capture(method, *args, **self._with_request(kwargs))
