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
left out, so the stacktrace starts at the method.

Better than raven 6.10: zerorpc's frames are left out by starting the captured traceback after
them (raven 6.10 wrote ``__traceback_hide__`` into the locals of zerorpc's running frames); a
failure while capturing is logged (rate-limited, ``sentry.errors``) instead of breaking
zerorpc's error reply. This module imports nothing of zerorpc (zerorpc calls
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


def after_dispatch(traceback: Any) -> Any:
    """``traceback`` from the frame after zerorpc's dispatching one (``__call__``, or
    ``_receiver`` for push/pull): the method's own frames; all of it when no such frame is there."""
    current = traceback
    while current is not None:
        if inspect.getframeinfo(current.tb_frame, context=0).function in _DISPATCH_FUNCTIONS:
            return current.tb_next or traceback
        current = current.tb_next
    return traceback


class SentryMiddleware:
    """A zerorpc context middleware reporting server-side exceptions to Sentry."""

    def __init__(self, hide_zerorpc_frames: bool = True, client: Any = None, **kwargs: Any) -> None:
        self._sentry_client = client or Client(**kwargs)
        self._hide_zerorpc_frames = hide_zerorpc_frames

    def server_inspect_exception(self, req_event: Any, rep_event: Any, task_ctx: Any, exc_info: Any) -> None:
        """zerorpc's hook, called with the exception a server method raised."""
        try:
            exc_type, exc_value, traceback = exc_info  # a list for request/reply
            if self._hide_zerorpc_frames:
                traceback = after_dispatch(traceback)
            self._sentry_client.captureException((exc_type, exc_value, traceback), extra=task_ctx)
        except Exception:
            log_failure("zerorpc", "capturing an exception")
