"""Deliver a pool child's events before the child exits (what raven 6.10 lost).

A prefork pool child (billiard) ends with ``os._exit``: no ``atexit`` hook runs, and its parent
sends it SIGTERM as soon as the child says it is done. raven 6.10 queued the event of a failing
task for its transport thread and returned; with ``--max-tasks-per-child=1`` (or a memory limit)
the child exited right after that task and the event went nowhere, silently.

billiard calls Celery's ``process_destructor`` in the child first, which sends
``worker_process_shutdown``; before anything else happens to the child. We connect one receiver to it that
closes every client registered here: each delivers what is queued within its
``shutdown_timeout`` (all together within the longest one), and what it could not deliver is
counted and logged by ``close`` as at any exit. A child that is killed (hard time limit,
SIGKILL) cannot be helped.

Why not ``task_postrun``: a flush after every task would make every failing task wait for the
server; the child usually lives on and its transport thread sends meanwhile. Only the exit needs
waiting for.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from celery.signals import worker_process_shutdown

__all__ = ("close_at_child_exit", "forget_at_child_exit")

_DEFAULT_TIMEOUT = 2.0
_DISPATCH_UID = "raven.contrib.celery.child_exit"
_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_log = logging.getLogger("sentry.errors")


def close_at_child_exit(client: Any) -> None:
    """Close ``client`` (delivering what it queued) when a pool child process shuts down."""
    with _lock:
        _clients.add(client)
    # Connecting again is a no-op (same receiver, same dispatch_uid).
    worker_process_shutdown.connect(_on_child_exit, weak=False, dispatch_uid=_DISPATCH_UID)


def forget_at_child_exit(client: Any) -> None:
    with _lock:
        _clients.discard(client)


def _shutdown_timeout(client: Any) -> float:
    try:
        return float(client._shutdown_timeout())
    except Exception:
        return _DEFAULT_TIMEOUT


def _on_child_exit(sender: Any = None, **kwargs: Any) -> None:
    with _lock:
        clients = list(_clients)
    if not clients:
        return
    deadline = time.monotonic() + max(_shutdown_timeout(c) for c in clients)
    for client in clients:
        try:
            remaining = max(0.0, deadline - time.monotonic())
            client.close(min(_shutdown_timeout(client), remaining))
        except Exception:  # the child is exiting: nothing may stop it
            _log.debug("Sentry: closing a client at the pool child's exit failed", exc_info=True)
