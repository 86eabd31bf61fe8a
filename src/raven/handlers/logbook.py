"""raven 6.10's ``SentryHandler`` for Logbook: log records become Sentry events.

>>> from raven.handlers.logbook import SentryHandler
>>> handler = SentryHandler('https://public@sentry.example.com/1', level='ERROR')
>>> with handler.applicationbound():
...     logbook.Logger('app').error('something broke')

Needs the ``logbook`` library (``pip install 'raven-ng[logbook]'``); without it, importing this
module raises an ImportError that says so. As in raven 6.10: a record becomes a message event
(its template, arguments and formatted text), or an exception event carrying the message when it
has exception info; the event's ``logger`` is the record's channel and its ``level`` the
record's level name (Logbook's ``notice`` is sent as ``info``, ``trace`` as ``debug``: Sentry has
neither); the record's line, file, function and process, and its ``extra``, go into ``extra``;
``tags=`` passed to the log call become event tags. Records of raven's own channels are not sent
(that could loop): they are written to stderr. The handler never raises into the logging call
unless the client has ``raise_send_errors``: a failure is logged to ``raven.errors`` and, as
raven 6.10 did, captured as an event itself.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from raven.base import Client
from raven.exceptions import ConfigurationError
from raven.transport._extras import require

try:
    logbook = require("logbook", "logbook")
except ConfigurationError as exc:
    # An ImportError, so ``try: from raven.handlers.logbook import ...`` guards keep working.
    raise ImportError(str(exc), name="logbook") from exc

__all__ = ("SentryHandler",)

_HANDLER_OPTIONS = ("level", "filter", "bubble")
#: Logbook level names Sentry does not know, and what is sent instead.
_LEVEL_NAMES = {"notice": "info", "trace": "debug"}

_error_logger = logging.getLogger("raven.errors")


class SentryHandler(logbook.Handler):  # type: ignore[name-defined]
    """A Logbook handler that sends records to Sentry.

    ``SentryHandler(dsn, **options)`` (``client_cls=`` picks the Client class; the other options
    go to it), ``SentryHandler(client)`` or ``SentryHandler(client=client)``; ``level``,
    ``filter`` and ``bubble`` are Logbook's handler options.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        handler_options = {name: kwargs.pop(name) for name in _HANDLER_OPTIONS if name in kwargs}
        client_cls = kwargs.pop("client_cls", None) or Client
        if len(args) == 1:
            arg = args[0]
            if isinstance(arg, str):
                self.client = client_cls(dsn=arg, **kwargs)
            elif isinstance(arg, Client):
                self.client = arg
            else:
                raise ValueError(
                    f"The first argument to {type(self).__name__} must be either a Client instance "
                    f"or a DSN, got {arg!r} instead."
                )
            args = ()
        else:
            if "client" not in kwargs:
                raise TypeError("Expected keyword argument for SentryHandler: client")
            self.client = kwargs.pop("client")
        super().__init__(*args, **handler_options)

    def emit(self, record: Any) -> None:
        try:
            if str(record.channel).startswith(("sentry.errors", "raven")):
                # Our own diagnostics: not sent (it could loop), but not swallowed either.
                sys.stderr.write(f"{self.format(record)}\n")
                return
            self._emit(record)
        except Exception:
            if self.client.raise_send_errors:
                raise
            _error_logger.error(
                "Sentry: could not send a Logbook record (%r)", getattr(record, "msg", None), exc_info=True
            )
            try:
                # As raven 6.10: report the handler's own failure, if the client still can.
                self.client.captureException()
            except Exception:
                pass

    def _emit(self, record: Any) -> Any:
        level_name = str(logbook.get_level_name(record.level)).lower()
        data: dict[str, Any] = {"level": _LEVEL_NAMES.get(level_name, level_name), "logger": record.channel}
        event_kwargs: dict[str, Any] = {
            "message": record.msg,
            "params": record.args,
            "formatted": self.format(record),
        }
        tags = record.kwargs.get("tags")
        if tags is not None:
            event_kwargs["tags"] = tags

        event_type = "raven.events.Message"
        exc_info = record.exc_info
        if exc_info is True:
            exc_info = sys.exc_info()
        if exc_info and all(exc_info):
            # The exception event carries the record's message too: raven 6.10 merged the
            # message event's fields into ``data`` (clients without ``get_handler`` take the
            # message keywords along with the exception).
            get_handler = getattr(self.client, "get_handler", None)
            if get_handler is not None:
                data.update(get_handler("raven.events.Message").capture(**event_kwargs))
            event_type = "raven.events.Exception"
            event_kwargs["exc_info"] = exc_info

        extra = {
            "lineno": record.lineno,
            "filename": record.filename,
            "function": record.func_name,
            "process": record.process,
            "process_name": record.process_name,
        }
        extra.update(record.extra)
        return self.client.capture(event_type, data=data, extra=extra, **event_kwargs)
