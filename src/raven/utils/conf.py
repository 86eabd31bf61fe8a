"""raven 6.10's ``convert_options``: framework settings (``SENTRY_*`` names, a ``SENTRY_CONFIG``
or ``RAVEN_CONFIG`` dict) turned into ``Client(**options)`` keyword arguments, as the Django and
Flask integrations read them."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any, Callable, Optional

from raven.utils.imports import import_string

__all__ = ("convert_options",)

#: The Client options read from ``SENTRY_<NAME>`` settings when the config dict lacks them.
_SETTINGS = (
    "include_paths",
    "exclude_paths",
    "timeout",
    "name",
    "auto_log_stacks",
    "string_max_length",
    "list_max_length",
    "site",
    "processors",
    "sanitize_keys",
    "dsn",
    "context",
    "tags",
    "release",
    "repos",
    "environment",
    "ignore_exceptions",
    "sample_rate",
)
_LIST_SETTINGS = frozenset(("include_paths", "exclude_paths"))


def convert_options(settings: Any, defaults: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``Client()`` keyword arguments from ``settings`` (a dict, or an object with attributes).

    A copy of ``SENTRY_CONFIG`` (else ``RAVEN_CONFIG``) is the base; each option it lacks comes
    from ``SENTRY_<OPTION>``, else ``defaults[option]`` (``dsn`` last from ``$SENTRY_DSN``).
    A ``transport`` given as a dotted path is imported.
    """
    fallback: Mapping[str, Any] = defaults or {}
    lookup: Callable[[str, Any], Any]
    if isinstance(settings, dict):
        lookup = settings.get
    else:

        def lookup(name: str, default: Any) -> Any:
            return getattr(settings, name, default)

    def setting(key: str, default: Any = None) -> Any:
        return lookup(f"SENTRY_{key.upper()}", fallback.get(key, default))

    options: dict[str, Any] = copy.copy(lookup("SENTRY_CONFIG", None) or lookup("RAVEN_CONFIG", None) or {})
    for key in _SETTINGS:
        if key == "dsn":
            default: Any = os.environ.get("SENTRY_DSN")
        else:
            default = [] if key in _LIST_SETTINGS else None
        options.setdefault(key, setting(key, default))

    transport = setting("transport") or options.get("transport")
    if isinstance(transport, str):
        transport = import_string(transport)
    options["transport"] = transport
    return options
