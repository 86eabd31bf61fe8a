"""The library's warnings and errors kept in memory by the ``raven`` command, which prints them
to explain a failure (the library itself never prints)."""

from __future__ import annotations

import logging


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
