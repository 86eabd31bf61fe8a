"""The ``Sentry`` Flask extension and ``make_client``, as raven 6.10 had them.

raven 6.10 behaviour kept, step by step:

- ``Sentry(app=None, client=None, client_cls=Client, dsn=None, logging=False,
  logging_exclusions=None, level=logging.NOTSET, wrap_wsgi=None, register_signal=True)``; a
  ``client`` that is not a ``raven.base.Client`` is a ``TypeError``; ``init_app(app, ...)`` takes
  the same options again, and builds the client with :func:`make_client` when none was given.
- ``wrap_wsgi`` defaults to True, False when ``app.debug`` (the debugger reported errors twice
  otherwise): the app's ``wsgi_app`` is wrapped in :class:`raven.middleware.Sentry`.
- ``register_signal``: unhandled exceptions are captured from ``got_request_exception``.
- before each request: ``last_event_id`` reset, the URL rule pushed as the transaction name, the
  request and the user put in the client's context (:mod:`raven.contrib.flask.request_info`);
  when the request finishes: ``X-Sentry-ID: <last_event_id>`` on the response when an event was
  captured through the extension, the context cleared, the transaction popped.
- ``captureException`` / ``captureMessage`` return the event id and store it in
  ``last_event_id``: ``g.sentry_event_id`` inside an app context, the extension otherwise.
- ``logging=True``: a ``SentryHandler(client, level=level)`` on the root logger
  (:func:`raven.conf.setup_logging`, ``logging_exclusions`` as its ``exclude``), also on the
  app's logger when that one does not propagate; then the ``logging_configured`` signal.
- ``app.extensions['sentry']`` is the extension.

Better than raven 6.10: nothing the integration does before, during or after a request raises
into the application (failures are logged, rate-limited, to ``sentry.errors``); an exception
raised before the extension's ``before_request`` ran (in an earlier ``before_request`` function)
still gets the request and user; the event id is taken from the capture's result (raven 6.10
went through the deprecated ``Client.get_ident``).
"""

from __future__ import annotations

import logging as _logging
from collections.abc import Iterable
from typing import Any, Callable, Optional

from flask import current_app, g, request
from flask.signals import got_request_exception, request_finished

from raven.base import Client
from raven.contrib._facade import ClientFacade, install_logging
from raven.contrib._safe import log_failure
from raven.contrib.flask import request_info as request_data
from raven.contrib.flask.signals import logging_configured
from raven.middleware import Sentry as SentryMiddleware
from raven.utils.conf import convert_options

__all__ = ("Sentry", "make_client")

_NAME = "flask"


def make_client(client_cls: Callable[..., Any], app: Any, dsn: Optional[str] = None) -> Any:
    """The client for ``app``: ``client_cls(**options)`` with the options read from ``app.config``
    by :func:`raven.utils.conf.convert_options`; by default the DSN given (else ``SENTRY_DSN``),
    ``include_paths`` the app's import name and ``SENTRY_INCLUDE_PATHS``, and ``ignore_exceptions``
    from raven's legacy ``RAVEN_IGNORE_EXCEPTIONS``."""
    return client_cls(
        **convert_options(
            app.config,
            defaults={
                "dsn": dsn,
                "include_paths": set(app.config.get("SENTRY_INCLUDE_PATHS", [])) | {app.import_name},
                "ignore_exceptions": app.config.get("RAVEN_IGNORE_EXCEPTIONS", []),
                "extra": {"app": app},
            },
        )
    )


class Sentry(ClientFacade):
    """The Flask extension (see the module's docstring for what it does).

    >>> sentry = Sentry(app, dsn='https://public@sentry.example.com/1')
    >>> sentry.captureMessage('hello, world!')
    """

    def __init__(
        self,
        app: Any = None,
        client: Optional[Client] = None,
        client_cls: Callable[..., Any] = Client,
        dsn: Optional[str] = None,
        logging: bool = False,
        logging_exclusions: Optional[Iterable[str]] = None,
        level: int = _logging.NOTSET,
        wrap_wsgi: Optional[bool] = None,
        register_signal: bool = True,
    ) -> None:
        if client and not isinstance(client, Client):
            raise TypeError("client should be an instance of Client")
        self.dsn = dsn
        self.logging = logging
        self.logging_exclusions = logging_exclusions
        self.client_cls = client_cls
        self.client: Any = client
        self.level = level
        self.wrap_wsgi = wrap_wsgi
        self.register_signal = register_signal
        self._last_event_id: Optional[str] = None
        if app:
            self.init_app(app)

    # -- the last event id

    @property
    def last_event_id(self) -> Optional[str]:
        """The id of the last event captured through the extension: the request's
        (``g.sentry_event_id``) inside an app context, else the extension's own."""
        try:
            return g.sentry_event_id
        except Exception:
            pass
        return getattr(self, "_last_event_id", None)

    @last_event_id.setter
    def last_event_id(self, value: Optional[str]) -> None:
        self._last_event_id = value
        try:
            g.sentry_event_id = value
        except Exception:
            pass  # outside an app context

    # -- what is read from the request (overridable, as in raven 6.10)

    def get_user_info(self, request: Any) -> dict[str, Any]:
        """The event's ``user`` for ``request`` (flask-login's ``current_user`` when set up)."""
        return request_data.user_info(request, current_app)

    def get_http_info(self, request: Any) -> dict[str, Any]:
        """The event's ``request`` for ``request``: its ``data`` from :meth:`get_json_data` or
        :meth:`get_form_data`, by the request's mimetype."""
        retriever = self.get_json_data if self.is_json_type(request.mimetype) else self.get_form_data
        return self.get_http_info_with_retriever(request, retriever)

    def is_json_type(self, content_type: Optional[str]) -> bool:
        return request_data.is_json_mimetype(content_type)

    def get_form_data(self, request: Any) -> Any:
        return request_data.form_data(request)

    def get_json_data(self, request: Any) -> Any:
        return request_data.json_body(request)

    def get_http_info_with_retriever(
        self, request: Any, retriever: Optional[Callable[[Any], Any]] = None
    ) -> dict[str, Any]:
        return request_data.http_info(request, retriever or self.get_form_data)

    # -- the request's life

    def _bind_request(self) -> None:
        """The current request and user into the client's context (each on its own: a failure
        of one keeps the other)."""
        try:
            self.client.http_context(self.get_http_info(request))
        except Exception:
            log_failure(_NAME, "reading the request")
        try:
            self.client.user_context(self.get_user_info(request))
        except Exception:
            log_failure(_NAME, "reading the user")

    def before_request(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.last_event_id = None
            if request.url_rule:
                self.client.transaction.push(request.url_rule.rule)
            self._bind_request()
        except Exception:
            log_failure(_NAME, "before_request")

    def after_request(self, sender: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self.last_event_id:
                response.headers["X-Sentry-ID"] = self.last_event_id
        except Exception:
            log_failure(_NAME, "after_request")
        try:
            self.client.context.clear()
            if request.url_rule:
                self.client.transaction.pop(request.url_rule.rule)
        except Exception:
            log_failure(_NAME, "after_request")
        return response

    def handle_exception(self, *args: Any, **kwargs: Any) -> None:
        """``got_request_exception``'s receiver: capture the exception (``exception=``, or
        ``exc_info=`` when called by hand)."""
        if not self.client:
            return
        try:
            exception = kwargs.get("exception")
            if exception is not None and hasattr(exception, "__traceback__"):
                exc_info: Any = (type(exception), exception, exception.__traceback__)
            else:
                exc_info = kwargs.get("exc_info")
            if request and "request" not in self.client.context.data:
                self._bind_request()  # raised before our before_request ran
            self.captureException(exc_info=exc_info)
        except Exception:
            log_failure(_NAME, "capturing an exception")

    # -- set-up

    def init_app(
        self,
        app: Any,
        dsn: Optional[str] = None,
        logging: Optional[bool] = None,
        level: Optional[int] = None,
        logging_exclusions: Optional[Iterable[str]] = None,
        wrap_wsgi: Optional[bool] = None,
        register_signal: Optional[bool] = None,
    ) -> None:
        self._take_options(
            dsn=dsn,
            level=level,
            wrap_wsgi=wrap_wsgi,
            register_signal=register_signal,
            logging=logging,
            logging_exclusions=logging_exclusions,
        )
        if self.wrap_wsgi is None:
            # The debugger shows the error already; wrapping reported it twice (raven #412).
            self.wrap_wsgi = not (app and app.debug)

        if not self.client:
            self.client = make_client(self.client_cls, app, self.dsn)

        if self.logging:
            self._install_logging(app)

        if self.wrap_wsgi:
            app.wsgi_app = SentryMiddleware(app.wsgi_app, self.client)

        app.before_request(self.before_request)
        request_finished.connect(self.after_request, sender=app)
        if self.register_signal:
            got_request_exception.connect(self.handle_exception, sender=app)

        if not hasattr(app, "extensions"):
            app.extensions = {}
        app.extensions["sentry"] = self

    def _install_logging(self, app: Any) -> None:
        handler = install_logging(self, self.client, self.level, self.logging_exclusions, logging_configured)
        if app.logger.propagate is False:
            app.logger.addHandler(handler)

    # -- the client's API, through the extension

    def _capture(self, method: str, *args: Any, **kwargs: Any) -> Optional[str]:
        result = super()._capture(method, *args, **kwargs)
        self.last_event_id = result or None
        return result
