"""raven 6.10's Paste Deploy filter: ``sentry_filter_factory(app, global_conf, **options)`` wraps
``app`` in the WSGI middleware (:class:`raven.middleware.Sentry`) with a ``Client(**options)``.

In a Paste Deploy ini file (raven 6.10 registered it as ``egg:raven#raven``; the distribution is
now ``raven-ng``)::

    [filter:sentry]
    use = egg:raven-ng#raven
    dsn = https://public@sentry.example.com/1
    include_paths = my.package

    [pipeline:main]
    pipeline = sentry myapp

Options arrive as strings from the ini file and go to ``Client`` as they are, as in raven 6.10.
It imports no framework: Paste Deploy calls it.
"""

from __future__ import annotations

from typing import Any

from raven.base import Client
from raven.middleware import Sentry

__all__ = ("sentry_filter_factory", "Sentry", "Client")


def sentry_filter_factory(app: Any, global_conf: Any, **kwargs: Any) -> Sentry:
    """The ``paste.filter_app_factory`` entry point: ``app`` wrapped in raven's WSGI middleware."""
    return Sentry(app, Client(**kwargs))
