"""raven 6.10's event classes (``raven.events.BaseEvent`` / ``Exception`` / ``Message`` / ``Query``).

The Client builds its own events without them; they exist for code written against raven 6.10:
custom event types passed to ``Client.capture('dotted.path.MyEvent', ...)`` that subclass
``BaseEvent`` (or ``Message``), and callers of ``raven.events.Exception(client).capture(...)``.
Their ``capture`` returns event fields in raven-ng's format (``logentry``, ``exception.values``).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from .message import logentry
from .serialize import safe_str
from .settings import DEFAULT_SETTINGS, EventSettings
from .stack import exception_values


def _settings_of(client: Any) -> EventSettings:
    settings = getattr(client, "_settings", None)
    return settings if isinstance(settings, EventSettings) else DEFAULT_SETTINGS


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
        transform = getattr(self.client, "transform", None)
        if callable(transform):
            return transform(value)
        from .serialize import safe_value

        return safe_value(value, _settings_of(self.client))


class ExceptionEvent(BaseEvent):
    """raven.events.Exception: ``exception.values`` for ``exc_info`` (default: the current one)."""

    name = "exception"

    def to_string(self, data: dict[str, Any]) -> str:
        exc = data[self.name]["values"][-1]
        if exc.get("value"):
            return f"{exc['type']}: {exc['value']}"
        return str(exc["type"])

    def capture(self, exc_info: Any = None, **kwargs: Any) -> dict[str, Any]:
        values = exception_values(exc_info, _settings_of(self.client))
        if not values:
            raise ValueError("No exception found")
        return {"level": kwargs.get("level", "error"), self.name: {"values": values}}


class Message(BaseEvent):
    """raven.events.Message: a ``logentry`` from ``message`` and ``params``."""

    name = "logentry"

    def to_string(self, data: dict[str, Any]) -> str:
        return str(data[self.name]["message"])

    def capture(
        self, message: Any = "", params: Any = (), formatted: Optional[str] = None, **kwargs: Any
    ) -> dict[str, Any]:
        entry = logentry(message, params, _settings_of(self.client))
        if formatted is not None:
            entry["formatted"] = safe_str(formatted, 8192)
        return {self.name: entry}


class Query(BaseEvent):
    """raven.events.Query: the query as the message, the engine as a tag."""

    name = "logentry"

    def to_string(self, data: dict[str, Any]) -> str:
        return str(data[self.name]["message"])

    def capture(self, query: Any = "", engine: Any = None, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = {self.name: logentry(query, None, _settings_of(self.client))}
        if engine is not None:
            result["tags"] = {"db.engine": safe_str(engine, 200)}
        return result
