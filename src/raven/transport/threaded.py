"""The default transport (raven 6.10's ``ThreadedHTTPTransport``): a background worker delivers.

The client's thread only serializes the event and queues it; sender threads with persistent
connections do the network I/O (see :mod:`raven._runtime.worker` for the queue bounds and the
thread policy). DSN options: those of :class:`~raven.transport.http.HTTPTransport` plus
``queue_size``, ``queue_bytes`` and ``max_connections``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import QUEUE_OPTIONS, TransportOptions
from raven._delivery.model import Failure, FailureKind
from raven._runtime.dispatch import Dispatcher
from raven._runtime.worker import Poster, Worker
from raven.conf import defaults
from raven.transport.base import AsyncTransport, OnFailure
from raven.transport.http import HTTPTransport, TransportNetworkError, send_replaced
from raven.utils.compat import Queue, check_threads  # noqa: F401  (raven 6.10 names of this module)

__all__ = ("AsyncWorker", "ThreadedHTTPTransport")

#: Seconds the worker waits for queued events at interpreter exit (raven 6.10's name; its value
#: was 10 s, raven-ng's default shutdown_timeout is 2 s, and the DSN's ?shutdown_timeout= wins).
DEFAULT_TIMEOUT = defaults.SHUTDOWN_TIMEOUT


class ThreadedHTTPTransport(AsyncTransport, HTTPTransport):
    """Sends from background threads; ``Client.capture*`` never waits on the network."""

    scheme = ["http", "https", "threaded+http", "threaded+https"]
    accepted_options: frozenset[str] = QUEUE_OPTIONS

    def open_dispatcher(self, core: DeliveryCore) -> Dispatcher:
        """The worker that delivers ``core``'s events (threads start on the first event).

        A subclass that overrides raven 6.10's ``async_send``, ``send_sync`` or ``send`` gets them
        called, through the callback dispatcher and the compat worker, as raven 6.10 did.
        """
        cls = type(self)
        if (
            cls.async_send is not ThreadedHTTPTransport.async_send
            or cls.send_sync is not ThreadedHTTPTransport.send_sync
            or send_replaced(self)
        ):
            from raven._runtime.dispatchers import CallbackDispatcher

            return CallbackDispatcher(self, core)
        return Worker(core, self.options, self.new_connection, name="raven-ng")

    # -- raven 6.10's API, for code that calls it directly

    def get_worker(self) -> AsyncWorker:
        """A raven 6.10-style worker for :meth:`async_send` (not used by the client)."""
        with _worker_lock:
            worker: Optional[AsyncWorker] = getattr(self, "_compat_worker", None)
            if worker is None:
                worker = self._compat_worker = AsyncWorker(self.options.shutdown_timeout, self.options)
            return worker

    def _start(self, job: Callable[[], None], size: int, failure_cb: OnFailure) -> None:
        """``async_send``: queue ``send_sync`` for a background thread of :meth:`get_worker`."""
        if not self.get_worker().queue(job, size=size):
            failure_cb(TransportNetworkError(_QUEUE_FULL))


_worker_lock = threading.Lock()
_QUEUE_FULL = Failure(FailureKind.OTHER, "the send queue is full")


class AsyncWorker:
    """raven 6.10's ``AsyncWorker`` API (``queue(callback, *args)``, ``stop``, ``main_thread_terminated``)
    on top of the bounded :class:`~raven._runtime.worker.Worker`."""

    def __init__(
        self, shutdown_timeout: float = DEFAULT_TIMEOUT, options: Optional[TransportOptions] = None
    ) -> None:
        base = options if options is not None else TransportOptions()
        self.options = {"shutdown_timeout": shutdown_timeout}
        self._worker = Worker(
            None, base.with_values(shutdown_timeout=shutdown_timeout), _no_connection, "raven-ng-compat"
        )

    def is_alive(self) -> bool:
        return self._worker.senders > 0

    def start(self) -> None:
        """Threads start on the first job; kept for compatibility."""

    def queue(self, callback: Callable[..., Any], *args: Any, size: int = 0, **kwargs: Any) -> bool:
        return self._worker.submit_job(lambda _: callback(*args, **kwargs), size)

    def stop(self, timeout: Optional[float] = None) -> None:
        self._worker.close(timeout)

    def main_thread_terminated(self) -> None:
        self._worker.flush(self.options["shutdown_timeout"])


class _NoConnection:
    """The compat worker's jobs bring their own connection."""

    def post(self, request: Any) -> Any:  # pragma: no cover - never called
        raise NotImplementedError

    def close(self) -> None:
        pass

    def detach(self) -> None:
        pass


def _no_connection() -> Poster:
    return _NoConnection()
