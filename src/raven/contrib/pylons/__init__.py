"""raven 6.10's Pylons integration: ``raven.contrib.pylons.Sentry(app, config)``, raven's WSGI
middleware (:class:`raven.middleware.Sentry`) with a client configured from the Pylons ``config``
(the app's ini settings): ``sentry.dsn``, ``sentry.name``, ``sentry.site``, and
``sentry.include_paths`` / ``sentry.exclude_paths`` as whitespace-separated lists.

>>> # config/middleware.py of a Pylons project
>>> from raven.contrib.pylons import Sentry
>>> app = Sentry(app, config)

Pylons itself cannot be installed on a current Python (its last release, 1.0.3, is for Python 2);
like raven 6.10's, this module imports nothing of Pylons: it needs a WSGI application and a
mapping of settings, which is all of Pylons it ever used. raven-ng tests it with a plain dict
standing in for Pylons' ``config``, under a real WSGI server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

from raven.base import Client
from raven.middleware import Sentry as Middleware

__all__ = ("Sentry", "list_from_setting", "Middleware", "Client")


def list_from_setting(config: Mapping[str, Any], setting: str) -> Optional[list[str]]:
    """The whitespace-separated words of ``config[setting]``; None when it is missing or empty."""
    value = config.get(setting)
    if not value:
        return None
    return str(value).split()


class Sentry(Middleware):
    """raven's WSGI middleware with a ``client_cls`` client built from Pylons settings."""

    def __init__(self, app: Any, config: Mapping[str, Any], client_cls: Callable[..., Any] = Client) -> None:
        client = client_cls(
            dsn=config.get("sentry.dsn"),
            name=config.get("sentry.name"),
            site=config.get("sentry.site"),
            include_paths=list_from_setting(config, "sentry.include_paths"),
            exclude_paths=list_from_setting(config, "sentry.exclude_paths"),
        )
        super().__init__(app, client)
