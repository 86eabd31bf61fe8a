"""One future per event, resolved when delivery decides the event's fate.

raven 6.10's ``AsyncSentryClient.send`` returned the future of its own ``AsyncHTTPClient.fetch``.
raven-ng's events go through the Tornado transport (its queue, connection limit, rate limits and
retries), so the future is ours: :class:`Outcomes` makes it and resolves it

* with the event id once the server accepted the event (the core's ``on_settled``);
* with the exception raven-ng's ``_failed_send`` hook gets once the event is lost: ``APIError`` /
  ``RateLimited`` for an HTTP status, ``ConnectionError`` when no HTTP answer came;
* for an event dropped before any request (a rate limit, a full queue, a close), once the
  dispatcher says everything submitted before it is settled (``LoopDispatcher.when_settled``).

A future made on a running event loop is an asyncio future of that loop (Tornado 6's ``Future``),
resolved on it; one made off any loop is a ``concurrent.futures.Future`` (Tornado's coroutines
accept both). At most :data:`MAX_PENDING` futures wait at once; beyond that the oldest is resolved
as unknown (``ConnectionError``) rather than kept forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import OrderedDict
from typing import Any, Callable, Optional, Union

from raven._delivery.model import Sent

__all__ = ("MAX_PENDING", "Outcomes", "make_future")

MAX_PENDING = 10000

AnyFuture = Union["asyncio.Future[Any]", "concurrent.futures.Future[Any]"]


def make_future() -> AnyFuture:
    """A future of the running loop, else a thread-safe one."""
    try:
        return asyncio.get_running_loop().create_future()
    except RuntimeError:
        return concurrent.futures.Future()


def _resolve(future: AnyFuture, result: Any, error: Optional[BaseException]) -> None:
    def apply() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    if isinstance(future, asyncio.Future):
        loop = future.get_loop()
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            apply()
            return
        try:
            loop.call_soon_threadsafe(apply)
        except RuntimeError:  # that loop is closed: no one can wait on the future any more
            pass
        return
    try:
        apply()
    except concurrent.futures.InvalidStateError:
        pass


class Outcomes:
    """Futures of events in delivery, by event id (thread-safe)."""

    def __init__(self, explain: Callable[[Any], BaseException], unsent: Callable[[], BaseException]) -> None:
        #: ``explain(decision)``: the exception for a core decision that lost the event.
        self._explain = explain
        #: ``unsent()``: the exception for an event dropped before any request.
        self._unsent = unsent
        self._pending: OrderedDict[str, AnyFuture] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def expect(self, event_id: str) -> AnyFuture:
        """The future of ``event_id``, resolved by :meth:`settled` or :meth:`give_up`."""
        future = make_future()
        evicted: list[AnyFuture] = []
        with self._lock:
            self._pending[event_id] = future
            while len(self._pending) > MAX_PENDING:
                evicted.append(self._pending.popitem(last=False)[1])
        for old in evicted:
            _resolve(old, None, ConnectionError("Sentry: the outcome of this event is no longer tracked"))
        return future

    def settled(self, request: Any, decision: Any) -> None:
        """The delivery core's ``on_settled``: an event was sent, or lost for a reason."""
        item = getattr(request, "item", None)
        if item is None:
            return
        with self._lock:
            future = self._pending.pop(item.event_id, None)
        if future is None:
            return
        if isinstance(decision, Sent):
            _resolve(future, item.event_id, None)
        else:
            _resolve(future, None, self._explain(decision))

    def give_up(self, event_id: str) -> None:
        """``event_id`` can no longer be settled: if it was not, it was dropped unsent."""
        with self._lock:
            future = self._pending.pop(event_id, None)
        if future is not None:
            _resolve(future, None, self._unsent())
