"""raven 6.10's Sanic integration: ``raven.contrib.sanic.Sentry``.

>>> from raven.contrib.sanic import Sentry
>>> sentry = Sentry(app, dsn='https://public@sentry.example.com/1')

What it keeps from raven 6.10: ``Sentry(app, client=None, client_cls=Client, dsn=None,
logging=False, logging_exclusions=None, level=logging.NOTSET)`` and ``init_app``; the client built
from ``app.config`` (:func:`make_client`: ``SENTRY_CONFIG`` / ``SENTRY_*``, the app's name in
``include_paths``); an exception raised by a handler is captured with the request
(:mod:`raven.contrib.sanic.request_info`); ``captureException`` / ``captureMessage`` on the
extension, their event id in ``last_event_id`` and, for the request they were called in, in the
response's ``X-Sentry-ID`` header; the client's context cleared after each response;
``logging=True`` installs a ``SentryHandler`` on the root logger (excluding ``root``,
``sanic.access`` and ``sanic.error`` by default) and sends ``logging_configured``.

Better than raven 6.10, which cannot run on current Sanic (it set ``app.extensions``, which Sanic
forbids) and kept the request in the client's thread-local context, shared by every request the
event loop serves at once (so an event could carry another request's data):

- the extension is ``app.ctx.extensions['sentry']`` (and ``app.ctx.sentry``);
- each event gets the request it belongs to, passed with the capture (``Request.get_current()``
  for captures made through the extension), and the event id is kept per request
  (``request.ctx.sentry_event_id``);
- exceptions are taken from Sanic's ``http.lifecycle.exception`` signal instead of an error
  handler registered for every ``Exception`` (which replaced the app's own and reported 404s):
  Sanic's own HTTP errors below 500 (not found, bad request ...) are not reported;
- nothing the integration does raises into the request (failures are logged, rate-limited, to
  ``sentry.errors``).

The client's context (``sentry.user_context(...)`` ...) is still the client's, per thread: on one
event loop it is shared by the requests in flight, and cleared after each response, as in 6.10.

Importing this module imports Sanic (``pip install 'raven-ng[sanic]'``).
"""

from __future__ import annotations

import logging as _logging
from collections.abc import Iterable
from typing import Any, Callable, Optional

from raven.contrib._framework import require

require("sanic", "sanic", "raven.contrib.sanic")
require("blinker", "sanic", "raven.contrib.sanic")

import blinker  # noqa: E402
from sanic import Request  # noqa: E402
from sanic.exceptions import SanicException  # noqa: E402

from raven.base import Client  # noqa: E402
from raven.conf import setup_logging  # noqa: E402
from raven.contrib._facade import ClientFacade, install_logging  # noqa: E402
from raven.contrib._safe import log_failure  # noqa: E402
from raven.contrib.sanic import request_info  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402
from raven.utils.compat import urlparse  # noqa: E402
from raven.utils.conf import convert_options  # noqa: E402
from raven.utils.encoding import to_unicode  # noqa: E402

__all__ = (
    "Sentry",
    "make_client",
    "logging_configured",
    "raven_signals",
    # raven 6.10's module namespace
    "blinker",
    "Client",
    "setup_logging",
    "SentryHandler",
    "urlparse",
    "to_unicode",
    "convert_options",
)

_NAME = "sanic"

raven_signals = blinker.Namespace()
logging_configured = raven_signals.signal("logging_configured")

#: raven 6.10's default ``logging_exclusions`` for Sanic.
DEFAULT_LOGGING_EXCLUSIONS = ("root", "sanic.access", "sanic.error")


def make_client(client_cls: Callable[..., Any], app: Any, dsn: Optional[str] = None) -> Any:
    """The client for ``app``, its options read from ``app.config`` (see the Flask one)."""
    return client_cls(
        **convert_options(
            app.config,
            defaults={
                "dsn": dsn,
                "include_paths": set(app.config.get("SENTRY_INCLUDE_PATHS", [])) | {app.name},
                "extra": {"app": app},
            },
        )
    )


def _current_request() -> Any:
    try:
        return Request.get_current()
    except Exception:
        return None  # not during a request


def _reported(exception: BaseException) -> bool:
    """Sanic's HTTP errors below 500 are answers, not failures."""
    if isinstance(exception, SanicException):
        return int(getattr(exception, "status_code", 500) or 500) >= 500
    return True


class Sentry(ClientFacade):
    """The Sanic extension (see the module's docstring)."""

    def __init__(
        self,
        app: Any,
        client: Optional[Client] = None,
        client_cls: Callable[..., Any] = Client,
        dsn: Optional[str] = None,
        logging: bool = False,
        logging_exclusions: Optional[Iterable[str]] = None,
        level: int = _logging.NOTSET,
    ) -> None:
        if client and not isinstance(client, Client):
            raise TypeError("client should be an instance of Client")
        self.client: Any = client
        self.client_cls = client_cls
        self.dsn = dsn
        self.logging = logging
        self.logging_exclusions = logging_exclusions
        self.level = level
        self._last_event_id: Optional[str] = None
        self.init_app(app)

    # -- the last event id: the current request's, else the last one the extension captured

    @property
    def last_event_id(self) -> Optional[str]:
        request = _current_request()
        if request is not None and hasattr(request.ctx, "sentry_event_id"):
            return request.ctx.sentry_event_id
        return self._last_event_id

    @last_event_id.setter
    def last_event_id(self, value: Optional[str]) -> None:
        self._last_event_id = value
        request = _current_request()
        if request is not None:
            request.ctx.sentry_event_id = value

    # -- what is read from the request (overridable, as in raven 6.10)

    def is_json_type(self, request: Any) -> bool:
        return request_info.is_json(request)

    def get_form_data(self, request: Any) -> Any:
        return request_info.form_data(request)

    def get_json_data(self, request: Any) -> Any:
        return request_info.json_data(request)

    def get_http_info(self, request: Any) -> dict[str, Any]:
        retriever = self.get_json_data if self.is_json_type(request) else self.get_form_data
        return self.get_http_info_with_retriever(request, retriever)

    def get_http_info_with_retriever(self, request: Any, retriever: Callable[[Any], Any]) -> dict[str, Any]:
        return request_info.http_info(request, retriever)

    def _request_data(self, request: Any) -> Optional[dict[str, Any]]:
        try:
            return {"request": self.get_http_info(request)}
        except Exception:
            log_failure(_NAME, "reading the request")
            return None

    # -- the request's life

    async def _on_exception(self, request: Any = None, exception: Any = None, **kwargs: Any) -> None:
        if exception is None or not _reported(exception):
            return
        self.handle_exception(request, exception)

    def handle_exception(self, request: Any, exception: BaseException) -> None:
        """Capture ``exception``, raised while handling ``request``."""
        if not self.client:
            return
        try:
            exc_info = (type(exception), exception, exception.__traceback__)
            self._capture_for("captureException", request, exc_info=exc_info)
        except Exception:
            log_failure(_NAME, "capturing an exception")

    def before_request(self, request: Any) -> None:
        try:
            request.ctx.sentry_event_id = None
        except Exception:
            log_failure(_NAME, "before_request")

    def after_request(self, request: Any, response: Any) -> None:
        try:
            event_id = getattr(request.ctx, "sentry_event_id", None)
            if event_id and response is not None:
                response.headers["X-Sentry-ID"] = event_id
            self.client.context.clear()
        except Exception:
            log_failure(_NAME, "after_request")

    # -- set-up

    def init_app(
        self,
        app: Any,
        dsn: Optional[str] = None,
        logging: Optional[bool] = None,
        level: Optional[int] = None,
        logging_exclusions: Optional[Iterable[str]] = None,
    ) -> None:
        self._take_options(dsn=dsn, level=level, logging=logging)
        if logging_exclusions is None:
            self.logging_exclusions = DEFAULT_LOGGING_EXCLUSIONS
        else:
            self.logging_exclusions = logging_exclusions

        if not self.client:
            self.client = make_client(self.client_cls, app, self.dsn)

        if self.logging:
            install_logging(self, self.client, self.level, self.logging_exclusions, logging_configured)

        extensions = getattr(app.ctx, "extensions", None)
        if extensions is None:
            extensions = app.ctx.extensions = {}
        extensions["sentry"] = self
        app.ctx.sentry = self

        app.signal("http.lifecycle.exception")(self._on_exception)
        app.register_middleware(self.before_request, attach_to="request")
        app.register_middleware(self.after_request, attach_to="response")

    # -- the client's API, through the extension

    def _capture_for(self, method: str, request: Any, *args: Any, **kwargs: Any) -> Optional[str]:
        if request is not None and kwargs.get("data") is None:
            data = self._request_data(request)
            if data is not None:
                kwargs["data"] = data
        result: Optional[str] = getattr(self.client, method)(*args, **kwargs)
        self.set_last_event_id_from_result(result)
        return result

    def _capture(self, method: str, *args: Any, **kwargs: Any) -> Optional[str]:
        return self._capture_for(method, _current_request(), *args, **kwargs)

    def set_last_event_id_from_result(self, result: Optional[str]) -> None:
        self.last_event_id = result or None
