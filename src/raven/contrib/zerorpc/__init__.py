"""raven 6.10's ZeroRPC integration: ``raven.contrib.zerorpc.SentryMiddleware``.

>>> import zerorpc
>>> from raven.contrib.zerorpc import SentryMiddleware
>>> zerorpc.Context.get_instance().register_middleware(SentryMiddleware(dsn='https://...'))

What it keeps from raven 6.10: ``SentryMiddleware(hide_zerorpc_frames=True, client=None,
**client_options)`` (a ``Client(**client_options)`` when no client is given); zerorpc calls its
``server_inspect_exception`` hook for every exception a server method raises (request/reply,
streaming and push/pull), which is captured with the task context zerorpc passes as ``extra``;
the exception still goes back to the caller. With ``hide_zerorpc_frames`` the frames of
zerorpc's own dispatch, up to the method call (``__call__``, or ``_receiver`` for push/pull), are
hidden (``__traceback_hide__``) so the stacktrace starts at the method.

Better than raven 6.10: a failure while capturing is logged (rate-limited, ``sentry.errors``)
instead of breaking zerorpc's error reply. This module imports nothing of zerorpc (zerorpc calls
it); ``pip install 'raven-ng[zerorpc]'`` installs zerorpc.
"""

from __future__ import annotations

import inspect
from typing import Any

from raven.base import Client
from raven.contrib._safe import log_failure

__all__ = ("SentryMiddleware", "Client")

#: The zerorpc functions whose frame is the last one hidden: the method is called from there.
_DISPATCH_FUNCTIONS = frozenset({"__call__", "_receiver"})


def hide_dispatch_frames(traceback: Any) -> None:
    """Mark zerorpc's frames of ``traceback``, outermost first, up to the dispatching one."""
    while traceback is not None:
        frame = traceback.tb_frame
        frame.f_locals["__traceback_hide__"] = True
        if inspect.getframeinfo(frame, context=0).function in _DISPATCH_FUNCTIONS:
            break
        traceback = traceback.tb_next


class SentryMiddleware:
    """A zerorpc context middleware reporting server-side exceptions to Sentry."""

    def __init__(self, hide_zerorpc_frames: bool = True, client: Any = None, **kwargs: Any) -> None:
        self._sentry_client = client or Client(**kwargs)
        self._hide_zerorpc_frames = hide_zerorpc_frames

    def server_inspect_exception(self, req_event: Any, rep_event: Any, task_ctx: Any, exc_info: Any) -> None:
        """zerorpc's hook, called with the exception a server method raised."""
        try:
            if self._hide_zerorpc_frames:
                hide_dispatch_frames(exc_info[2])
            self._sentry_client.captureException(exc_info, extra=task_ctx)
        except Exception:
            log_failure("zerorpc", "capturing an exception")
