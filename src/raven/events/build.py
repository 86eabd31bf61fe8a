"""raven 6.10's in-process event: what ``Client.build_msg`` returns, ``send(**data)`` receives
and processors see.

The keys and value types are raven 6.10's: ``message`` (a string) next to
``sentry.interfaces.Message`` (``message``, ``params``, ``formatted``) or
``sentry.interfaces.Query`` (``query``, ``engine``); ``level`` as given, a logging integer by
default; ``timestamp`` a naive UTC ``datetime``; ``project``, ``time_spent``, ``repos``,
``modules``; ``culprit`` or ``transaction``; ``tags`` (strings) and ``extra`` (JSON-safe values);
``user`` and ``request`` as given (made JSON-safe). What raven-ng adds stays: chained exceptions
and exception groups (each value with its ``mechanism``), frames with source context, ``in_app``
and, with ``capture_locals``, bounded locals.

The order of raven 6.10's ``build_msg``: the context under ``data``, the event class's fields
(``data`` wins), the stack, the client's fields, tags and extra merged, processors (their result
merged into the event), then ``message`` and the fields set only when missing (``event_id``,
``timestamp`` ...). The translation to Sentry's current protocol happens once, at encoding
(:mod:`raven.events.wire`).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Optional

from .serialize import safe_str, safe_value
from .settings import MAX_MESSAGE_LENGTH
from .stack import current_stacktrace, exception_values, module_rule

#: ``event_type`` names (raven's event classes) mapped to the kind of event they build.
EVENT_KINDS = {
    "raven.events.Message": "message",
    "Message": "message",
    "raven.events.Exception": "exception",
    "Exception": "exception",
    "raven.events.Query": "query",
    "Query": "query",
}

MESSAGE_INTERFACE = "sentry.interfaces.Message"
QUERY_INTERFACE = "sentry.interfaces.Query"

#: Event fields that ``capture`` also takes as keywords (``data`` wins when it has them too).
_KEYWORD_FIELDS = ("culprit", "fingerprint", "transaction", "server_name", "logger")
#: Merged below rather than copied as they are.
_MERGED_KEYS = frozenset({"tags", "extra"})

_HEX = frozenset("0123456789abcdef")


def new_event_id() -> str:
    """32 lowercase hex digits from the OS's random source (fork-safe, unlike a seeded PRNG)."""
    return os.urandom(16).hex()


def is_event_id(value: Any) -> bool:
    return type(value) is str and len(value) == 32 and _HEX.issuperset(value)


def utcnow() -> datetime:
    """raven 6.10's ``datetime.utcnow()`` (naive UTC), without its deprecation warning."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def tag_value(value: Any) -> str:
    # Sentry keeps tag values up to 200 characters.
    text = value if type(value) is str else safe_str(value, 200)
    return text if len(text) <= 200 else text[:200]


def merged_items(sources: Iterable[Optional[Mapping[Any, Any]]]) -> Iterator[tuple[Any, Any]]:
    """The items of each mapping in turn; a missing one or one that cannot be read is skipped."""
    for source in sources:
        if not source:
            continue
        try:
            items = list(source.items())
        except Exception:
            continue
        yield from items


def clean_tags(*sources: Optional[Mapping[Any, Any]]) -> dict[str, str]:
    """Tags merged left to right, keys and values as strings (None values dropped)."""
    tags: dict[str, str] = {}
    for key, value in merged_items(sources):
        if value is None:
            continue
        name = key if type(key) is str else safe_str(key, 200)
        tags[name[:200]] = tag_value(value)
    return tags


def exception_string(event: Mapping[str, Any]) -> Optional[str]:
    """raven 6.10's message for an exception event: ``"Type: value"`` of the raised exception."""
    try:
        last = event["exception"]["values"][-1]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(last, Mapping):
        return None
    exc_type = str(last.get("type") or "")
    value = last.get("value")
    return f"{exc_type}: {value}" if value else exc_type


def message_fields(client: Any, message: Any, params: Any = (), formatted: Any = None) -> dict[str, Any]:
    """raven.events.Message's fields: the message interface and ``message``."""
    text = safe_str(message, MAX_MESSAGE_LENGTH)
    if formatted is not None:
        formatted = safe_str(formatted, MAX_MESSAGE_LENGTH)
    safe_params = client.transform(params) if params else ()
    if isinstance(safe_params, list):
        safe_params = tuple(safe_params)  # raven 6.10's serializer gave sequences as tuples
    return {
        MESSAGE_INTERFACE: {"message": text, "params": safe_params, "formatted": formatted},
        "message": formatted or text,
    }


def exception_fields(
    client: Any,
    exc_info: Any,
    level: Any = logging.ERROR,
    handled: bool = True,
    mechanism_type: str = "generic",
) -> dict[str, Any]:
    """raven.events.Exception's fields: ``level`` and ``exception.values`` (the chain, oldest
    first; ``exc_info`` None or True: the exception being handled)."""
    fields: dict[str, Any] = {"level": level}
    values = exception_values(exc_info, client._settings, handled=handled, mechanism_type=mechanism_type)
    if values:
        fields["exception"] = {"values": values}
    return fields


def query_fields(query: Any, engine: Any) -> dict[str, Any]:
    """raven.events.Query's fields: the query interface."""
    return {
        QUERY_INTERFACE: {
            "query": safe_str(query, MAX_MESSAGE_LENGTH),
            "engine": safe_str(engine, 200),
        }
    }


def _frames(event: Mapping[str, Any]) -> list[Any]:
    """The frames of the event's stacktrace and of its raised exception (raven 6.10's places)."""
    traces = [event.get("stacktrace")]
    last = _last_exception(event)
    if isinstance(last, Mapping):
        traces.append(last.get("stacktrace"))
    frames: list[Any] = []
    for trace in traces:
        if isinstance(trace, Mapping) and isinstance(trace.get("frames"), list):
            frames.extend(trace["frames"])
    return frames


def _last_exception(event: Mapping[str, Any]) -> Any:
    try:
        return event["exception"]["values"][-1]
    except (KeyError, IndexError, TypeError):
        return None


def mark_in_app(event: Mapping[str, Any], include: frozenset[str], exclude: frozenset[str]) -> None:
    """raven 6.10: frames that do not say whether they are the application's own (frames given
    in ``data``) get ``in_app`` from ``include_paths`` / ``exclude_paths``; raven's are not."""
    for frame in _frames(event):
        if not isinstance(frame, dict) or frame.get("in_app") is not None:
            continue
        module = frame.get("module")
        if not module or not isinstance(module, str):
            continue
        if module == "raven" or module.startswith("raven."):
            frame["in_app"] = False
        else:
            frame["in_app"] = bool(module_rule(module, include, exclude))


class EventBuilder:
    """Builds the events of one client (its settings, context and fields are read at each build,
    as raven 6.10 read them: ``client.tags`` or ``client.release`` may change after ``Client()``)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def build(
        self,
        event_type: str,
        data: Optional[Mapping[str, Any]],
        date: Any,
        time_spent: Any,
        extra: Optional[Mapping[str, Any]],
        stack: Any,
        tags: Optional[Mapping[str, Any]],
        kwargs: dict[str, Any],
        direct: bool = False,
    ) -> dict[str, Any]:
        """The event, processors not yet applied (see :meth:`finish`).

        ``direct``: nothing but the processors will see this event before it is encoded (the
        client's fast path), so its timestamp stays a Unix time rather than a datetime.
        """
        client = self.client
        settings = client._settings
        ctx = client._context
        ctx_data = ctx.data
        data = data or {}
        event: dict[str, Any] = {}
        for source in (ctx_data, data):
            for key, value in source.items():
                if key not in _MERGED_KEYS:
                    event[key] = value

        kind = EVENT_KINDS.get(event_type)
        fields: dict[str, Any]
        if kind == "message":
            fields = self._message(kwargs)
        elif kind == "exception":
            fields = self._exception(kwargs)
        elif kind == "query":
            fields = query_fields(kwargs.get("query", ""), kwargs.get("engine"))
        else:
            fields = self._custom(event_type, kwargs)
        culprit = fields.pop("culprit", None)
        if event.get("culprit"):
            culprit = event["culprit"]
        for key, value in fields.items():
            if key not in event:
                event[key] = value

        if stack is None and "exception" not in event:
            stack = client.auto_log_stacks
        if stack and "stacktrace" not in event:
            event["stacktrace"] = self._stacktrace(stack, kwargs.get("_skip_modules", ("raven.",)))
        if settings.include_paths:
            mark_in_app(event, settings.include_paths, settings.exclude_paths)

        for key in _KEYWORD_FIELDS:
            value = kwargs.get(key)
            if value is not None and key not in data:
                event[key] = value
        if not event.get("level"):
            event["level"] = kwargs.get("level") or logging.ERROR
        if not event.get("server_name") and client.name:
            event["server_name"] = client.name
        if not event.get("modules"):
            event["modules"] = client._modules
        if client.release is not None:
            event["release"] = str(client.release)
        if client.environment is not None:
            event["environment"] = str(client.environment)
        event["tags"] = clean_tags(client.tags, ctx_data.get("tags"), data.get("tags"), tags)
        event["extra"] = self._extra(ctx_data.get("extra"), data.get("extra"), extra)
        site = event.pop("site", None) or client.site
        if site:
            event["tags"].setdefault("site", tag_value(site))
        if "transaction" not in event and not culprit:
            transaction = client.transaction.peek()
            if transaction is not None:
                event["transaction"] = str(transaction)
        elif culprit:
            event["culprit"] = culprit
        for key in ("user", "request"):
            if key in event:
                event[key] = safe_value(event[key], settings)

        given_id = event.get("event_id")
        event["event_id"] = given_id if is_event_id(given_id) else new_event_id()
        if event.get("timestamp") is None:
            event["timestamp"] = date if date is not None else (time.time() if direct else utcnow())
        if not direct:  # raven 6.10's bookkeeping, never sent: only for those who look
            event.setdefault("time_spent", time_spent)
            event.setdefault("project", client.remote.project)
            event.setdefault("repos", client.repos)
        event.setdefault("platform", "python")
        event.setdefault("sdk", client._sdk)
        if client.enable_breadcrumbs and "breadcrumbs" not in event:
            crumbs = ctx.breadcrumbs.get_buffer(lambda value: safe_value(value, settings))
            if crumbs:
                event["breadcrumbs"] = {"values": crumbs}
        return event

    def finish(self, event: dict[str, Any], kwargs: Mapping[str, Any], direct: bool = False) -> None:
        """After the processors (raven 6.10's last steps): ``message`` when the event has none,
        tags as strings, ``extra`` values through the client's serializer.

        ``direct``: the event goes straight to encoding (no one sees it any more), so ``extra``
        values are made JSON-safe with their types (what the wire gets in the end anyway)
        instead of taking raven 6.10's forms only to be turned back.
        """
        extra = event.get("extra")
        if isinstance(extra, dict):
            if direct:
                settings = self.client._settings
                for key, value in list(extra.items()):
                    extra[key] = safe_value(value, settings)
            else:
                transform = self.client.transform
                for key, value in list(extra.items()):
                    extra[key] = transform(value)
        tags = event.get("tags")
        if tags and isinstance(tags, dict):
            event["tags"] = clean_tags(tags)
        if "message" in event:
            return
        message = kwargs.get("message")
        if message is None:
            interface = event.get(MESSAGE_INTERFACE) or event.get(QUERY_INTERFACE)
            if isinstance(interface, Mapping):
                message = interface.get("formatted") or interface.get("message") or interface.get("query")
            else:
                message = exception_string(event)
        event["message"] = safe_str(message, MAX_MESSAGE_LENGTH) if message is not None else ""

    # -- the event kinds

    def _message(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return message_fields(
            self.client, kwargs.get("message", ""), kwargs.get("params", ()), kwargs.get("formatted")
        )

    def _exception(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        mechanism_type, handled = kwargs.get("_mechanism") or ("generic", True)
        return exception_fields(
            self.client, kwargs.get("exc_info"), kwargs.get("level", logging.ERROR), handled, mechanism_type
        )

    def _custom(self, event_type: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A raven 6.10 event class given by dotted path: its ``capture(**kwargs)`` gives fields."""
        path = event_type if "." in event_type else f"raven.events.{event_type}"
        module_name, _, name = path.rpartition(".")
        handler = getattr(importlib.import_module(module_name), name)(self.client)
        result = handler.capture(**{k: v for k, v in kwargs.items() if not k.startswith("_")})
        fields = dict(result) if isinstance(result, Mapping) else {}
        if "message" not in fields and "message" not in kwargs:
            try:
                fields["message"] = handler.to_string({**fields})
            except Exception:
                pass
        return fields

    # -- parts

    def _extra(self, *sources: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """The merged ``extra``, values as given: processors see them so (raven 6.10 applied its
        serializer after the processors, in :meth:`finish`)."""
        return {
            (key if type(key) is str else safe_str(key)): value
            for key, value in merged_items((self.client.extra, *sources))
        }

    def _stacktrace(self, stack: Any, skip_modules: tuple[str, ...]) -> dict[str, Any]:
        settings = self.client._settings
        if stack is True:
            return current_stacktrace(settings, skip_modules=skip_modules)
        # raven 6.10 also took an iterable of frames or (frame, lineno) pairs, oldest first.
        innermost = None
        for item in stack:
            innermost = item[0] if isinstance(item, (tuple, list)) else item
        if innermost is None:
            return {"frames": []}
        return current_stacktrace(settings, skip_modules=(), frame=innermost)
