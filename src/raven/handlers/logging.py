"""``SentryHandler``: a ``logging.Handler`` that sends records to Sentry, as raven 6.10's.

>>> from raven.handlers.logging import SentryHandler
>>> handler = SentryHandler('https://public@sentry.example.com/1', level=logging.ERROR)
>>> logging.getLogger().addHandler(handler)

A record becomes a message event (its template, params and formatted text); a record with
``exc_info`` becomes an exception event that also carries the message. Record attributes become
``extra`` (``extra={'foo': 1}``), except ``tags``, ``data``, ``stack`` and the contextual fields
``user``, ``culprit``, ``server_name``, ``fingerprint`` and dotted interface names, which become
event fields. The handler never raises into the logging call: errors go through ``handleError``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Optional

from raven.base import Client
from raven.events import MAX_MESSAGE_LENGTH, safe_str

__all__ = ("SentryHandler", "extract_extra", "RESERVED", "CONTEXTUAL")

#: LogRecord attributes that are not sent as ``extra``.
RESERVED = frozenset(
    (
        "stack",
        "name",
        "module",
        "funcName",
        "args",
        "msg",
        "levelno",
        "exc_text",
        "exc_info",
        "data",
        "created",
        "levelname",
        "msecs",
        "relativeCreated",
        "tags",
        "message",
        # Newer LogRecord attributes raven 6.10 did not know of, and formatter leftovers.
        "stack_info",
        "taskName",
        "asctime",
    )
)

#: Record attributes that are event fields rather than ``extra``.
CONTEXTUAL = frozenset(("user", "culprit", "server_name", "fingerprint"))


def extract_extra(
    record: logging.LogRecord, reserved: frozenset[str] = RESERVED, contextual: frozenset[str] = CONTEXTUAL
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a record's attributes into event fields (``data``) and ``extra``."""
    data: dict[str, Any] = {}
    extra_value = getattr(record, "data", None)
    if isinstance(extra_value, dict):
        extra = dict(extra_value)  # never mutate the caller's dict
    elif extra_value:
        extra = {"data": extra_value}
    else:
        extra = {}
    for key, value in vars(record).items():
        if key in reserved or key.startswith("_"):
            continue
        if "." not in key and key not in contextual:
            extra[key] = value
        else:
            data[key] = value
    return data, extra


class SentryHandler(logging.Handler):
    """Sends log records to Sentry.

    ``SentryHandler(dsn)``, ``SentryHandler(client)``, ``SentryHandler(client=client)`` or
    ``SentryHandler(**client_options)``; ``level=`` is the handler level, ``tags=`` are added
    to every event, ``client_cls=`` is the Client class to build.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        client_cls = kwargs.pop("client_cls", None) or Client
        level = kwargs.pop("level", logging.NOTSET)
        self.tags: Optional[dict[str, Any]] = kwargs.get("tags")
        client: Client
        if len(args) == 1:
            arg = args[0]
            if isinstance(arg, str):
                client = client_cls(dsn=arg, **kwargs)
            elif isinstance(arg, Client):
                client = arg
            else:
                raise ValueError(
                    f"The first argument to {type(self).__name__} must be either a Client instance "
                    f"or a DSN, got {arg!r} instead."
                )
        elif "client" in kwargs:
            client = kwargs["client"]
        else:
            client = client_cls(*args, **kwargs)
        self.client = client
        logging.Handler.__init__(self, level=level)

    def can_record(self, record: logging.LogRecord) -> bool:
        """False for our own loggers: sending their records would loop."""
        name = record.name
        return not (name == "raven" or name.startswith(("sentry.errors", "raven.")))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if not self.can_record(record):
                # Our own diagnostics: not sent (it could loop), but not swallowed either.
                if record.levelno >= logging.WARNING:
                    sys.stderr.write(f"{record.name}: {record.getMessage()}\n")
                return
            self._emit(record)
        except Exception:
            if self.client.raise_send_errors:
                raise
            self.handleError(record)

    def _get_targetted_stack(self, stack: Iterable[Any], record: logging.LogRecord) -> list[Any]:
        """The given frames from the first one after the logging module's own frames."""
        stack = list(stack)
        frames = []
        started = False
        last_module = ""
        for item in stack:
            frame, lineno = item if isinstance(item, (list, tuple)) else (item, item.f_lineno)
            if not started:
                module = getattr(frame, "f_globals", {}).get("__name__", "")
                if last_module.startswith("logging") and not module.startswith("logging"):
                    started = True
                else:
                    last_module = module
                    continue
            frames.append((frame, lineno))
        return frames or stack

    def _emit(self, record: logging.LogRecord, **kwargs: Any) -> Optional[str]:
        data, extra = extract_extra(record)
        stack = getattr(record, "stack", None)
        if stack and stack is not True:
            stack = self._get_targetted_stack(stack, record)

        msg = record.msg
        message = msg if isinstance(msg, str) else safe_str(msg, MAX_MESSAGE_LENGTH)
        try:
            formatted = record.getMessage()
        except Exception:
            formatted = message
        handler_kwargs: dict[str, Any] = {"message": message, "params": record.args, "formatted": formatted}

        event_type = "raven.events.Message"
        exc_info = record.exc_info
        if exc_info and all(exc_info):
            # As raven 6.10: the record's message goes in first, then the exception on top.
            data.update(self.client.get_handler(event_type).capture(**handler_kwargs))
            event_type = "raven.events.Exception"
            handler_kwargs = {"exc_info": exc_info, "_mechanism": ("logging", True)}

        data["level"] = record.levelno
        data["logger"] = record.name

        tags: dict[str, Any] = {}
        if self.tags:
            tags.update(self.tags)
        record_tags = getattr(record, "tags", None)
        if isinstance(record_tags, dict):
            tags.update(record_tags)

        kwargs.update(handler_kwargs)
        sample_rate = extra.pop("sample_rate", None)
        return self.client.capture(
            event_type,
            stack=stack,
            data=data,
            extra=extra,
            date=record.created,
            sample_rate=sample_rate,
            tags=tags,
            _skip_modules=("raven.", "logging"),
            **kwargs,
        )
