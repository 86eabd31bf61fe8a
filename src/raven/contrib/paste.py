"""raven 6.10's Paste Deploy filter: ``sentry_filter_factory(app, global_conf, **options)`` wraps
``app`` in the WSGI middleware (:class:`raven.middleware.Sentry`) with a ``Client(**options)``.

In a Paste Deploy ini file (raven 6.10 registered it as ``egg:raven#raven``; the distribution is
now ``raven-ng``, so it is ``egg:raven-ng#raven``)::

    [filter:sentry]
    use = egg:raven-ng#raven
    dsn = https://public@sentry.example.com/1
    include_paths = my.package my.other_package

    [pipeline:main]
    pipeline = sentry myapp

Better than raven 6.10, which handed the ini file's strings to ``Client`` as they were (so
``install_sys_hook = false`` installed the hook, and ``include_paths = my.package`` became a set
of characters): the Client's boolean options are read as booleans (``true/false``, ``yes/no``,
``on/off``, ``1/0``) and its list options as whitespace-separated lists; everything else goes
to ``Client`` as given. It imports no framework: Paste Deploy calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raven.base import Client
from raven.middleware import Sentry

__all__ = ("sentry_filter_factory", "client_options", "Sentry", "Client")

#: ``Client`` options that are booleans, and the ini words for them.
BOOLEAN_OPTIONS = frozenset(
    {
        "raise_send_errors",
        "install_sys_hook",
        "install_logging_hook",
        "enable_breadcrumbs",
        "auto_log_stacks",
        "capture_locals",
        "include_versions",
    }
)
#: ``Client`` options that are lists.
LIST_OPTIONS = frozenset(
    {"include_paths", "exclude_paths", "processors", "ignore_exceptions", "hook_libraries"}
)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


def client_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``Client`` keyword arguments from ini ``options`` (strings read as booleans and lists where
    the Client expects those; a word that is not a boolean is left as it is)."""
    converted: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, str):
            word = value.strip().lower()
            if key in BOOLEAN_OPTIONS and (word in _TRUE or word in _FALSE):
                value = word in _TRUE
            elif key in LIST_OPTIONS:
                value = value.split()
        converted[key] = value
    return converted


def sentry_filter_factory(app: Any, global_conf: Any, **kwargs: Any) -> Sentry:
    """The ``paste.filter_app_factory`` entry point: ``app`` wrapped in raven's WSGI middleware."""
    return Sentry(app, Client(**client_options(kwargs)))
