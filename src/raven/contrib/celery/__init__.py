"""raven 6.10's Celery integration, for Celery 5: ``raven.contrib.celery``.

    from raven import Client
    from raven.contrib.celery import register_signal, register_logger_signal

    client = Client(dsn)
    register_signal(client)              # a failing task is an event
    register_logger_signal(client)       # ERROR log records of the worker too

What raven 6.10 did and this keeps (see each module):

* :mod:`.handler`: :class:`SentryCeleryHandler` listens to ``task_prerun`` (the task name on the
  client's transaction stack, the context activated), ``task_failure`` (the exception captured,
  ``extra`` ``task_id`` / ``task`` / ``args`` / ``kwargs``; a ``SoftTimeLimitExceeded`` grouped per
  task; with ``ignore_expected`` the exceptions listed in the task's ``throws`` skipped) and
  ``task_postrun`` (the context cleared). :func:`register_signal` installs it.
* :mod:`.logger`: :class:`CeleryFilter` and :func:`register_logger_signal`, a ``SentryHandler``
  added to the logger Celery sets up (``after_setup_logger``), without duplicating the task
  failures Celery logs itself.

What raven 6.10 lost and this does not: a prefork pool child exits with ``os._exit`` (and is sent
SIGTERM by its parent) right after it says it is done, so with ``--max-tasks-per-child`` the
event of the child's last task was still queued and went nowhere. :mod:`.child_exit` closes the
client in the child on ``worker_process_shutdown``, which billiard sends before the child tells
its parent: the queued events are delivered (within ``shutdown_timeout``) and whatever could not
be is counted and logged.

Importing this module imports Celery; without it, ``ImportError`` names ``raven-ng[celery]``.
"""

from __future__ import annotations

import logging  # noqa: F401  (raven 6.10's module namespace)

from raven.contrib._framework import require

require("celery", "celery", "raven.contrib.celery")

from celery.exceptions import SoftTimeLimitExceeded  # noqa: E402, F401
from celery.signals import after_setup_logger, task_failure, task_postrun, task_prerun  # noqa: E402, F401

from raven.contrib.celery.handler import SentryCeleryHandler, register_signal  # noqa: E402
from raven.contrib.celery.logger import CeleryFilter, register_logger_signal  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402, F401

__all__ = ("CeleryFilter", "SentryCeleryHandler", "register_logger_signal", "register_signal")
