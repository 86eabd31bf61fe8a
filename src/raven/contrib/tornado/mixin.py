"""raven 6.10's ``SentryMixin`` for ``tornado.web.RequestHandler``.

    class MainHandler(SentryMixin, tornado.web.RequestHandler):
        ...

    app = tornado.web.Application([...])
    app.sentry_client = AsyncSentryClient(dsn)

Kept from raven 6.10:

* the client is ``self.application.sentry_client`` (override :meth:`get_sentry_client`);
* every event from the handler carries ``request`` (``url`` the full URL, ``method``, ``data``
  the body, ``query_string``, ``cookies`` the Cookie header, ``headers``), ``user``
  (``is_authenticated``) and ``extra`` (:meth:`get_sentry_extra_info`), each from an overridable
  method; ``data=`` given to a capture is merged over them, and a ``data`` that is not a dict goes
  to ``extra['extra_data']``;
* ``captureException`` / ``captureMessage`` on the handler;
* an exception a handler method raises is captured from Tornado's ``log_exception`` (after
  Tornado logged it), except ``tornado.web.HTTPError`` outside 500-599.

Better than raven 6.10:

* The user comes from ``self.current_user``, so a user set in ``prepare()`` (Tornado's way for
  asynchronous authentication) counts and ``get_current_user`` is not called a second time; its
  ``id``, ``username`` and ``email`` (keys of a dict, or attributes) are sent when it has them.
* ``request.data`` is the body as text (raven 6.10 sent bytes), ``request.env`` has
  ``REMOTE_ADDR``.
* Reporting never breaks Tornado's error handling: a missing ``sentry_client`` or a failing
  capture is logged on ``sentry.errors`` instead of raised from ``log_exception``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tornado.web import HTTPError as WebHTTPError

__all__ = ("SentryMixin",)

_log = logging.getLogger("sentry.errors")
_USER_FIELDS = ("id", "username", "email")


def _body_text(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8", "replace")
    return body


def _user_fields(user: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _USER_FIELDS:
        value = user.get(name) if isinstance(user, Mapping) else getattr(user, name, None)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            fields[name] = value
    return fields


class SentryMixin:
    """Report a ``RequestHandler``'s errors with the request's details (see the module doc)."""

    # What RequestHandler provides (this class is mixed into one).
    application: Any
    request: Any

    def get_sentry_client(self) -> Any:
        """The client of the application (``self.application.sentry_client``)."""
        return self.application.sentry_client

    def get_sentry_data_from_request(self) -> dict[str, Any]:
        """``{'request': ...}``: the request being handled, for Sentry's HTTP interface."""
        request = self.request
        return {
            "request": {
                "url": request.full_url(),
                "method": request.method,
                "data": _body_text(request.body),
                "query_string": request.query,
                "cookies": request.headers.get("Cookie", None),
                "headers": dict(request.headers),
                "env": {"REMOTE_ADDR": request.remote_ip},
            }
        }

    def get_sentry_user_info(self) -> dict[str, Any]:
        """``{'user': {'is_authenticated': ...}}`` from ``current_user`` (and its id, username,
        email when it has them); ``{}`` if finding the user fails."""
        try:
            user = self.current_user  # type: ignore[attr-defined]
        except Exception:
            return {}
        info: dict[str, Any] = {"is_authenticated": bool(user)}
        if user:
            info.update(_user_fields(user))
        return {"user": info}

    def get_sentry_extra_info(self) -> dict[str, Any]:
        """``{'extra': {...}}``: override to send more."""
        return {"extra": {}}

    def get_default_context(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        data.update(self.get_sentry_data_from_request())
        data.update(self.get_sentry_user_info())
        data.update(self.get_sentry_extra_info())
        return data

    def _capture(self, call_name: str, data: Any = None, **kwargs: Any) -> Any:
        context = self.get_default_context()
        if isinstance(data, dict):
            context.update(data)
        elif data is not None:
            extra = context.get("extra")
            if not isinstance(extra, dict):
                extra = context["extra"] = {}
            extra["extra_data"] = data
        client = self.get_sentry_client()
        return getattr(client, call_name)(data=context, **kwargs)

    def captureException(self, exc_info: Any = None, **kwargs: Any) -> Any:  # noqa: N802
        return self._capture("captureException", exc_info=exc_info, **kwargs)

    def captureMessage(self, message: Any, **kwargs: Any) -> Any:  # noqa: N802
        return self._capture("captureMessage", message=message, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> Any:
        """Tornado's ``log_exception``, then the exception to Sentry (not 4xx ``HTTPError``)."""
        rv = super().log_exception(typ, value, tb)  # type: ignore[misc]
        if isinstance(value, WebHTTPError) and not 500 <= value.status_code <= 599:
            return rv
        try:
            self.captureException(exc_info=(typ, value, tb))
        except Exception:
            _log.error("Sentry: could not report an exception of %s", type(self).__name__, exc_info=True)
        return rv

    def send_error(self, status_code: int = 500, **kwargs: Any) -> Any:
        """Tornado's ``send_error``; the exception was reported by :meth:`log_exception` (raven
        6.10 captured here only on Tornado older than 3.1, which had no ``log_exception``)."""
        return super().send_error(status_code, **kwargs)  # type: ignore[misc]
