"""The library's warnings and errors kept in memory by the ``raven`` command, which prints them
to explain a failure (the library itself never prints)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: The loggers the library writes its diagnostics to.
LIBRARY_LOGGERS = ("sentry.errors", "raven")


class LogCollector(logging.Handler):
    """Keeps each distinct message of WARNING or above, in order."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if message not in self.messages:
            self.messages.append(message)


@contextmanager
def collecting(own: bool = False) -> Iterator[LogCollector]:
    """A :class:`LogCollector` on the library's loggers while the block runs; the loggers are put
    back as they were after it. ``own``: the messages go to the collector only, not on to the
    process's other handlers."""
    collector = LogCollector()
    saved = []
    for name in LIBRARY_LOGGERS:
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        log.addHandler(collector)
        if log.level == logging.NOTSET or log.level > logging.WARNING:
            log.setLevel(logging.WARNING)
        if own:
            log.propagate = False
    try:
        yield collector
    finally:
        for log, level, propagate in saved:
            log.removeHandler(collector)
            log.setLevel(level)
            log.propagate = propagate
