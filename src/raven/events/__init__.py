"""Event building blocks: safe values, exceptions and stacks as Sentry frames, log entries,
and bounded JSON encoding. Used by the Client; nothing here raises into the caller."""

from __future__ import annotations

from typing import Any

from .compat import BaseEvent, Message, Query
from .compat import ExceptionEvent as Exception  # noqa: F401  (raven 6.10 name, kept out of __all__)
from .encode import dumps, encode_event
from .message import format_message, logentry
from .serialize import from_raven_form, raven_form, safe_repr, safe_str, safe_value
from .settings import (
    DEFAULT_SETTINGS,
    MAX_CHAINED_EXCEPTIONS,
    MAX_EVENT_BYTES,
    MAX_EXCEPTION_VALUE_LENGTH,
    MAX_LENGTH_LIST,
    MAX_LENGTH_STRING,
    MAX_MESSAGE_LENGTH,
    MAX_STORE_BYTES,
    EventSettings,
)
from .stack import current_stacktrace, exception_values, is_in_app

# raven 6.10's event classes are importable by name (``Exception`` is left out of ``*``
# on purpose: it would shadow the builtin in the importing module).
__all__ = [
    "BaseEvent",
    "Message",
    "Query",
    "DEFAULT_SETTINGS",
    "MAX_CHAINED_EXCEPTIONS",
    "MAX_EVENT_BYTES",
    "MAX_EXCEPTION_VALUE_LENGTH",
    "MAX_LENGTH_LIST",
    "MAX_LENGTH_STRING",
    "MAX_MESSAGE_LENGTH",
    "MAX_STORE_BYTES",
    "EventSettings",
    "current_stacktrace",
    "dumps",
    "encode_event",
    "exception_values",
    "format_message",
    "from_raven_form",
    "raven_form",
    "is_in_app",
    "logentry",
    "safe_repr",
    "safe_str",
    "safe_value",
]


def __getattr__(name: str) -> Any:
    # raven 6.10's names of this module, imported when first read (raven.utils.stacks imports
    # from this package).
    if name in ("get_stack_info", "iter_traceback_frames"):
        from raven.utils import stacks

        return getattr(stacks, name)
    raise AttributeError(name)
