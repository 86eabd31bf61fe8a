"""raven 6.10's ZConfig integration: a ``<sentry>`` log handler section for ZConfig logging
configurations (Zope, ZEO and other ZConfig users).

    <logger>
      %import raven.contrib.zconfig
      <sentry>
        dsn https://public@sentry.example.com/1
        level ERROR
      </sentry>
    </logger>

What it keeps from raven 6.10: the section's keys (``component.xml`` beside this module): ``dsn``,
``site``, ``name``, ``release``, ``environment``, ``exclude_paths`` / ``include_paths`` /
``processors`` (lists), ``sample_rate`` (default 1.0), ``list_max_length`` /
``string_max_length``, ``auto_log_stacks``, and the base handler's ``level`` (default ERROR); the
factory (``Factory``) builds a :class:`raven.handlers.logging.SentryHandler` whose client gets
those options, as raven 6.10's handler passed them (``level`` included), looked up as
``raven.handlers.logging.Client`` when the handler is made.

Importing this module imports ZConfig (``pip install 'raven-ng[zconfig]'``).
"""

from __future__ import annotations

import logging
from typing import Any

from raven.contrib._framework import require

require("ZConfig", "zconfig", "raven.contrib.zconfig")

import ZConfig.components.logger.factory  # noqa: E402

import raven.handlers.logging  # noqa: E402

__all__ = ("Factory", "CLIENT_KEYS")

#: The section keys that become ``Client`` options, in raven 6.10's order.
CLIENT_KEYS = (
    "dsn",
    "site",
    "name",
    "release",
    "environment",
    "exclude_paths",
    "include_paths",
    "sample_rate",
    "list_max_length",
    "string_max_length",
    "auto_log_stacks",
    "processors",
)


class Factory(ZConfig.components.logger.factory.Factory):
    """The ``<sentry>`` section's datatype: makes the handler when ZConfig asks for it."""

    def __init__(self, section: Any) -> None:
        ZConfig.components.logger.factory.Factory.__init__(self)
        self.section = section
        self.section.level = self.section.level or logging.ERROR

    def getLevel(self) -> int:  # noqa: N802  (ZConfig's name)
        return int(self.section.level)

    def create(self) -> logging.Handler:
        handlers = raven.handlers.logging
        level = self.section.level
        options: dict[str, Any] = {key: getattr(self.section, key, None) for key in CLIENT_KEYS}
        client = handlers.Client(level=level, **options)
        return handlers.SentryHandler(client=client, level=level)
