"""Task failures as events: raven 6.10's ``SentryCeleryHandler`` and ``register_signal``.

Kept from raven 6.10:

* ``task_prerun``: the client's context is activated and the task's name pushed on its
  transaction stack, so the event's ``transaction`` (culprit) is the task name;
* ``task_failure``: the exception is captured with ``extra`` ``task_id``, ``task`` (the task
  object, in raven's serializer form), ``args`` and ``kwargs``; a ``SoftTimeLimitExceeded`` gets
  the fingerprint ``['celery', 'SoftTimeLimitExceeded', <task name>]`` (one issue per task);
  ``ignore_expected=True`` skips exceptions listed in the task's ``throws``;
* ``task_postrun``: the transaction popped and the context cleared.

Better than raven 6.10:

* ``ignore_expected`` and the ``SoftTimeLimitExceeded`` fingerprint work on Celery 5: raven 6.10
  tested ``einfo.exception``, which billiard 4 wraps for pickling (``ExceptionWithTraceback``), so
  no exception ever matched (raven 6.10's own ``test_ignore_expected`` fails on Celery 5).
* The exception captured is the one the task raised: Celery hands the signal a picklable stand-in
  when the real one cannot be pickled (``UnpickleableExceptionWrapper``); the original is taken
  from the ``except`` block Celery sends the signal from, and ``throws`` is matched against it.
  Outside such a block (a signal sent by hand) the signal's exception and its traceback are used,
  where raven 6.10 captured whatever ``sys.exc_info()`` held.
* Nothing raises into Celery's task machinery: a failing capture is logged on ``sentry.errors``.
* A pool child's queued events are delivered before it exits (:mod:`.child_exit`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_failure, task_postrun, task_prerun

from raven.contrib.celery.child_exit import close_at_child_exit, forget_at_child_exit

__all__ = ("SentryCeleryHandler", "register_signal")

_log = logging.getLogger("sentry.errors")

ExcInfo = tuple[Any, Any, Any]


def register_signal(client: Any, ignore_expected: bool = False) -> None:
    """Capture every failing task with ``client`` (raven 6.10's entry point)."""
    SentryCeleryHandler(client, ignore_expected=ignore_expected).install()


def _task_name(task: Any) -> str:
    name = getattr(task, "name", None)
    return name if isinstance(name, str) else str(task)


def _stands_for(stand_in: Any, original: BaseException) -> bool:
    """``stand_in`` is Celery's picklable wrapper of ``original``."""
    wrapped_name = getattr(stand_in, "exc_cls_name", None)
    return wrapped_name is not None and wrapped_name == type(original).__name__


def failure_exc_info(exception: Any, einfo: Any) -> Optional[ExcInfo]:
    """The ``(type, value, traceback)`` of the task's failure."""
    if exception is None:
        exception = getattr(einfo, "exception", None)
        # billiard 4 wraps it for pickling (ExceptionWithTraceback): the task's exception is .exc
        inner = getattr(exception, "exc", None)
        if isinstance(inner, BaseException):
            exception = inner
    current = sys.exc_info()
    if current[1] is not None and (
        exception is None or current[1] is exception or _stands_for(exception, current[1])
    ):
        return current
    if isinstance(exception, BaseException):
        return type(exception), exception, exception.__traceback__
    return None


class SentryCeleryHandler:
    """Connects a client to Celery's task signals (see the module documentation)."""

    def __init__(self, client: Any, ignore_expected: bool = False) -> None:
        self.client = client
        self.ignore_expected = ignore_expected

    def install(self) -> None:
        task_prerun.connect(self.handle_task_prerun, weak=False)
        task_postrun.connect(self.handle_task_postrun, weak=False)
        task_failure.connect(self.process_failure_signal, weak=False)
        close_at_child_exit(self.client)

    def uninstall(self) -> None:
        task_prerun.disconnect(self.handle_task_prerun)
        task_postrun.disconnect(self.handle_task_postrun)
        task_failure.disconnect(self.process_failure_signal)
        forget_at_child_exit(self.client)

    def process_failure_signal(
        self,
        sender: Any = None,
        task_id: Any = None,
        args: Any = None,
        kwargs: Any = None,
        einfo: Any = None,
        **kw: Any,
    ) -> None:
        try:
            self._capture_failure(sender, task_id, args, kwargs, einfo, kw.get("exception"))
        except Exception:
            _log.error("Sentry: could not capture the failure of task %s", task_id, exc_info=True)

    def _capture_failure(
        self, sender: Any, task_id: Any, args: Any, kwargs: Any, einfo: Any, exception: Any
    ) -> None:
        exc_info = failure_exc_info(exception, einfo)
        if exc_info is None:
            return
        if self.ignore_expected:
            throws = getattr(sender, "throws", None) or ()
            if isinstance(exc_info[1], tuple(throws) if isinstance(throws, (list, set)) else throws):
                return
        fingerprint = None
        if isinstance(exc_info[1], SoftTimeLimitExceeded):
            fingerprint = ["celery", "SoftTimeLimitExceeded", _task_name(sender)]
        self.client.captureException(
            exc_info=exc_info,
            extra={"task_id": task_id, "task": sender, "args": args, "kwargs": kwargs},
            fingerprint=fingerprint,
        )

    def handle_task_prerun(
        self, sender: Any = None, task_id: Any = None, task: Any = None, **kw: Any
    ) -> None:
        try:
            self.client.context.activate()
            self.client.transaction.push(getattr(task or sender, "name", None))
        except Exception:
            _log.debug("Sentry: task_prerun handling failed", exc_info=True)

    def handle_task_postrun(
        self, sender: Any = None, task_id: Any = None, task: Any = None, **kw: Any
    ) -> None:
        try:
            self.client.transaction.pop(getattr(task or sender, "name", None))
            self.client.context.clear()
        except Exception:
            _log.debug("Sentry: task_postrun handling failed", exc_info=True)
