"""Celery's logs as events: raven 6.10's ``CeleryFilter`` and ``register_logger_signal``.

``register_logger_signal(client)`` waits for Celery to set up its logger (``after_setup_logger``)
and adds a ``SentryHandler`` for ``client`` at ``loglevel`` (ERROR by default) with a
:class:`CeleryFilter`; if the logger already has a ``SentryHandler`` (or a subclass), that one
only gets the filter. As in raven 6.10, the ``logger`` argument is accepted and not used: the
logger is the one Celery hands to the signal.

:class:`CeleryFilter` keeps the records Celery logs about a task failure out (``register_signal``
captures those, with the task's details): Celery marks them with ``data`` (``internal`` False,
from its ``_log_error``). Its own internal errors (``internal`` True) and every other record pass.

Also kept from 6.10's behaviour, made safe: a worker child exiting delivers the handler's events
first (:mod:`.child_exit`).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from celery.signals import after_setup_logger

from raven.contrib.celery.child_exit import close_at_child_exit
from raven.handlers.logging import SentryHandler

__all__ = ("CeleryFilter", "register_logger_signal")

#: The function of Celery's tracer that logs a task's failure.
_FAILURE_LOGGER = "_log_error"


class CeleryFilter(logging.Filter):
    """Drops Celery's own log record of a task failure (unless Celery marks it internal)."""

    def filter(self, record: logging.LogRecord) -> bool:
        not_a_failure_log = record.funcName != _FAILURE_LOGGER
        data = getattr(record, "data", {})
        if not isinstance(data, dict):
            return not_a_failure_log
        return bool(data.get("internal", not_a_failure_log))


def register_logger_signal(client: Any, logger: Optional[Any] = None, loglevel: int = logging.ERROR) -> None:
    """Send the records of the logger Celery sets up, from ``loglevel`` on, to ``client``."""
    filter_ = CeleryFilter()
    handler = SentryHandler(client)
    handler.setLevel(loglevel)
    handler.addFilter(filter_)

    def process_logger_event(
        sender: Any = None, logger: Optional[logging.Logger] = None, **kwargs: Any
    ) -> Optional[bool]:
        if logger is None:
            return None
        for existing in logger.handlers:
            if isinstance(existing, SentryHandler):
                existing.addFilter(filter_)
                return False
        logger.addHandler(handler)
        return None

    after_setup_logger.connect(process_logger_event, weak=False)
    close_at_child_exit(client)
