"""The one translation from raven 6.10's in-process event to Sentry's current event protocol.

Everything the Client, processors and ``send(**data)`` see keeps raven 6.10's shape
(:mod:`raven.events.build`); this module turns it into what the server is sent, once, at
encoding:

* ``message`` with ``sentry.interfaces.Message`` (or ``sentry.interfaces.Query``) become
  ``logentry`` ``{message, params, formatted}`` (a query's engine becomes the ``db.engine`` tag);
  an exception event's ``message`` that only repeats its exception ("Type: value") is left out;
* the other legacy interface names (``sentry.interfaces.Http``, ``User``, ``Exception``,
  ``Stacktrace``, ``Template``) become their current keys;
* ``level`` becomes ``fatal``/``error``/``warning``/``info``/``debug``;
* ``timestamp`` (a naive UTC datetime, a Unix time or an RFC 3339 string) becomes a Unix time;
* ``user`` fits Sentry's schema (a string ``id``, unknown keys under ``data``);
* ``extra`` values and message params get their JSON types back from raven 6.10's serializer
  forms (``"'bar'"`` -> ``"bar"``, ``"1"`` -> ``1``; :func:`raven.events.serialize.from_raven_form`);
* the ``runtime`` and ``os`` contexts are added under any given ``contexts``;
* raven's own bookkeeping (``project``, ``time_spent``, ``repos``) is not sent.

:func:`encode_wire` returns the JSON bytes of the delivery; :func:`dumps_raven` the JSON raven
6.10's ``Client.encode`` produced (datetimes as ``YYYY-MM-DDTHH:MM:SSZ``).
"""

from __future__ import annotations

import platform
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Optional, Union

from raven.utils.levels import normalize_level

from .build import MESSAGE_INTERFACE, QUERY_INTERFACE, exception_string
from .encode import encode_event
from .message import format_message, logentry
from .serialize import from_raven_form, safe_str, safe_value
from .settings import DEFAULT_SETTINGS, MAX_MESSAGE_LENGTH, EventSettings

#: Legacy interface names raven-era code still puts in events, and their current keys.
LEGACY_INTERFACES = {
    "sentry.interfaces.Http": "request",
    "sentry.interfaces.User": "user",
    "sentry.interfaces.Exception": "exception",
    "sentry.interfaces.Stacktrace": "stacktrace",
    "sentry.interfaces.Template": "template",
}
#: raven 6.10's bookkeeping, not part of the event protocol.
NOT_SENT = ("project", "time_spent", "repos")

#: The fields of Sentry's user interface; anything else goes under ``user.data``.
_USER_FIELDS = frozenset({"id", "email", "ip_address", "username", "name", "geo", "segment", "data"})
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def fit_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """Fit ``user`` to Sentry's schema: ``id`` is a string (a numeric primary key is common), and
    keys it does not know move to ``data`` (a strict server drops the event otherwise)."""
    fitted = {key: value for key, value in user.items() if key in _USER_FIELDS}
    if fitted.get("id") is not None and not isinstance(fitted["id"], str):
        fitted["id"] = str(fitted["id"])
    others = {key: value for key, value in user.items() if key not in _USER_FIELDS}
    if others:
        data = fitted.get("data")
        fitted["data"] = {**others, **data} if isinstance(data, dict) else others
    return fitted


def wire_timestamp(value: Any) -> Union[float, str]:
    """A datetime (naive = UTC, as raven's ``utcnow``) or a number as Unix time, an RFC 3339
    string as given; anything else (or None) is now."""
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    return time.time()


def _runtime_contexts() -> dict[str, dict[str, str]]:
    contexts: dict[str, dict[str, str]] = {
        "runtime": {
            "name": platform.python_implementation(),
            "version": platform.python_version(),
            "build": sys.version.replace("\n", " "),
        }
    }
    try:
        uname = platform.uname()
        contexts["os"] = {
            "name": uname.system or sys.platform,
            "version": uname.release,
            "build": uname.version,
        }
    except Exception:
        contexts["os"] = {"name": sys.platform}
    return contexts


_RUNTIME_CONTEXTS: Optional[dict[str, dict[str, str]]] = None


def runtime_contexts() -> dict[str, dict[str, str]]:
    """The ``runtime`` and ``os`` contexts: computed once per process."""
    global _RUNTIME_CONTEXTS
    if _RUNTIME_CONTEXTS is None:
        _RUNTIME_CONTEXTS = _runtime_contexts()
    return _RUNTIME_CONTEXTS


def _logentry(event: dict[str, Any], settings: EventSettings) -> None:
    """``message`` and the message/query interfaces -> ``logentry`` (in place)."""
    interface = event.pop(MESSAGE_INTERFACE, None)
    query = event.pop(QUERY_INTERFACE, None)
    message = event.pop("message", None)
    if "logentry" in event:
        return
    if interface is not None and (type(interface) is dict or isinstance(interface, Mapping)):
        text = interface.get("message", "")
        params = interface.get("params")
        formatted = interface.get("formatted")
        if not params and type(text) is str and (formatted is None or type(formatted) is str):
            # The common case (no params; the strings already bounded by the builder).
            event["logentry"] = {"message": text, "params": [], "formatted": formatted or text}
            return
        entry = logentry(text, from_raven_form(params), settings)
        if formatted:
            entry["formatted"] = safe_str(formatted, MAX_MESSAGE_LENGTH)
        event["logentry"] = entry
        return
    if query is not None and isinstance(query, Mapping):
        event["logentry"] = logentry(query.get("query", ""), None, settings)
        engine = query.get("engine")
        if engine and engine != "None":
            tags = event.get("tags")
            tags = dict(tags) if isinstance(tags, Mapping) else {}
            tags.setdefault("db.engine", safe_str(engine, 200))
            event["tags"] = tags
        return
    if message is None or message == "":
        return
    text = message if type(message) is str else safe_str(message, MAX_MESSAGE_LENGTH)
    if "exception" in event and text == exception_string(event):
        return  # raven's default message of an exception event: the exception says it already
    event["logentry"] = {"message": text, "formatted": format_message(text, None)}


def to_wire(
    event: Mapping[str, Any], settings: EventSettings = DEFAULT_SETTINGS, direct: bool = False
) -> dict[str, Any]:
    """Sentry's event for raven 6.10's in-process ``event`` (a new dict; ``event`` is untouched).

    ``direct``: the client's fast path, whose ``event`` is its own (it is changed in place) and
    whose ``extra`` values already have their JSON types.
    """
    wire = event if direct and type(event) is dict else dict(event)
    for alias, key in LEGACY_INTERFACES.items():
        if alias in wire:
            value = wire.pop(alias)
            wire.setdefault(key, value)
    for key in NOT_SENT:
        wire.pop(key, None)
    _logentry(wire, settings)
    extra = wire.get("extra")
    if not direct and isinstance(extra, Mapping):
        wire["extra"] = {key: from_raven_form(value) for key, value in extra.items()}
    wire["level"] = normalize_level(wire.get("level"))
    wire["timestamp"] = wire_timestamp(wire.get("timestamp"))
    if not wire.get("logger"):
        wire["logger"] = "root"
    user = wire.get("user")
    if user is not None and isinstance(user, Mapping):
        wire["user"] = fit_user(user)
    contexts = dict(runtime_contexts())
    given = wire.get("contexts")
    if given is not None and isinstance(given, Mapping):
        contexts.update(given)
    wire["contexts"] = contexts
    return wire


def encode_wire(
    event: Mapping[str, Any], settings: EventSettings = DEFAULT_SETTINGS, direct: bool = False
) -> bytes:
    """The JSON bytes delivered for ``event``: translated, bounded, never raising."""
    return encode_event(to_wire(event, settings, direct))


def _raven_default(value: Any) -> Any:
    """raven 6.10's JSON encoder for what ``json`` cannot encode: datetimes in its format."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    return safe_value(value)


def dumps_raven(event: Any) -> bytes:
    """JSON bytes of an in-process event as raven 6.10's ``Client.encode`` wrote them (before
    compression)."""
    import json

    try:
        return json.dumps(event, default=_raven_default, ensure_ascii=False).encode("utf-8", "replace")
    except Exception:
        return json.dumps(safe_value(event), ensure_ascii=False).encode("utf-8", "replace")
