"""raven 6.10's event classes (``raven.events.BaseEvent`` / ``Exception`` / ``Message`` / ``Query``).

``capture(**kwargs)`` returns the fields the event kind contributes, in raven 6.10's shape
(``sentry.interfaces.Message`` and ``message``; ``exception.values``; ``sentry.interfaces.Query``),
as the Client builds them (:mod:`raven.events.build`). They serve code written against raven
6.10: custom event types passed to ``Client.capture('dotted.path.MyEvent', ...)`` that subclass
``BaseEvent``, ``client.get_handler(...)``, the logging handler, and direct callers.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from .build import (
    MESSAGE_INTERFACE,
    QUERY_INTERFACE,
    exception_fields,
    exception_string,
    message_fields,
    query_fields,
)
from .serialize import safe_value
from .settings import DEFAULT_SETTINGS, EventSettings


class _Transforming:
    """What the field builders need of a client: ``transform`` and ``_settings``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        settings = getattr(client, "_settings", None)
        self._settings = settings if isinstance(settings, EventSettings) else DEFAULT_SETTINGS

    def transform(self, value: Any) -> Any:
        transform = getattr(self._client, "transform", None)
        if callable(transform):
            return transform(value)
        return safe_value(value, self._settings)


class BaseEvent:
    """An event kind: ``capture(**kwargs)`` returns the fields it contributes to the event."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.logger = logging.getLogger(__name__)

    def to_string(self, data: dict[str, Any]) -> str:
        raise NotImplementedError

    def capture(self, **kwargs: Any) -> dict[str, Any]:
        return {}

    def transform(self, value: Any) -> Any:
        return _Transforming(self.client).transform(value)


class ExceptionEvent(BaseEvent):
    """raven.events.Exception: ``exception.values`` for ``exc_info`` (default: the current one)."""

    name = "exception"

    def to_string(self, data: dict[str, Any]) -> str:
        return exception_string(data) or ""

    def capture(self, exc_info: Any = None, **kwargs: Any) -> dict[str, Any]:
        fields = exception_fields(_Transforming(self.client), exc_info, kwargs.get("level", logging.ERROR))
        if "exception" not in fields:
            raise ValueError("No exception found")
        return fields


class Message(BaseEvent):
    """raven.events.Message: ``sentry.interfaces.Message`` (message, params, formatted)."""

    name = MESSAGE_INTERFACE

    def to_string(self, data: dict[str, Any]) -> str:
        return str(data[self.name]["message"])

    def capture(
        self, message: Any = "", params: Any = (), formatted: Optional[str] = None, **kwargs: Any
    ) -> dict[str, Any]:
        return message_fields(_Transforming(self.client), message, params, formatted)


class Query(BaseEvent):
    """raven.events.Query: ``sentry.interfaces.Query`` (query, engine)."""

    name = QUERY_INTERFACE

    def to_string(self, data: dict[str, Any]) -> str:
        return str(data[self.name]["query"])

    def capture(self, query: Any = "", engine: Any = None, **kwargs: Any) -> dict[str, Any]:
        return query_fields(query, engine)
