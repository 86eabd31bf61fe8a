"""How the client drives a transport: one dispatcher per I/O model, the same delivery rules for all.

:func:`open_dispatcher` picks:

* the transport's own ``open_dispatcher(core)`` (the built-in threaded and green transports);
* :class:`CallbackDispatcher` for raven 6.10-style ``AsyncTransport`` classes (``async_send`` with
  success / error callbacks);
* :class:`SyncDispatcher` for blocking ``Transport`` classes (``send`` on the caller's thread).

Whatever the transport returns or raises is turned into a :class:`Reply` or a :class:`Failure`
by :func:`outcome_from_exception` / :func:`outcome_from_result`, and settled by the core, so a
user's transport gets rate limits, store fallback and lost-event accounting like ours.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.model import (
    EventItem,
    Failure,
    FailureKind,
    Outcome,
    Reason,
    Reply,
    Request,
    RetryAsStore,
)
from raven._runtime.connection import classify
from raven._runtime.dispatch import Dispatcher
from raven._runtime.logs import errors, log_decision, log_rate_limited
from raven.exceptions import APIError, RateLimited

__all__ = (
    "CallbackDispatcher",
    "SyncDispatcher",
    "open_dispatcher",
    "outcome_from_exception",
    "outcome_from_result",
)


def _lower_headers(headers: Any) -> dict[str, str]:
    try:
        items = headers.items()
    except AttributeError:
        return {}
    return {str(k).lower(): str(v) for k, v in items}


def outcome_from_exception(exc: Optional[BaseException]) -> Outcome:
    """What a transport's exception says happened: a Reply (the server answered) or a Failure."""
    reply = getattr(exc, "reply", None)
    if isinstance(reply, Reply):
        return reply
    failure = getattr(exc, "failure", None)
    if isinstance(failure, Failure):
        return failure
    if isinstance(exc, RateLimited):
        retry_after = exc.retry_after
        return Reply(429, {"retry-after": f"{float(retry_after):g}"} if retry_after else {})
    if isinstance(exc, APIError):
        code = exc.code if isinstance(exc.code, int) and 100 <= exc.code <= 599 else 500
        return Reply(code, {"x-sentry-error": str(exc.message)} if exc.message else {})
    # urllib's HTTPError (a raven 6.10-style transport re-raising it) carries code and headers.
    http_code = getattr(exc, "code", None)
    if isinstance(http_code, int) and 100 <= http_code <= 599 and hasattr(exc, "headers"):
        return Reply(http_code, _lower_headers(getattr(exc, "headers", None)))
    # requests' HTTPError carries the response.
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and 100 <= status <= 599:
        return Reply(status, _lower_headers(getattr(response, "headers", None)))
    if exc is None:
        return Failure(FailureKind.OTHER, "the transport reported an error without an exception")
    # urllib's URLError wraps the socket error in ``reason``.
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, (OSError, ValueError)):
        return classify(exc, "exchange")
    return Failure(FailureKind.OTHER, f"{type(exc).__name__}: {exc}")


def outcome_from_result(result: Any) -> Outcome:
    """What a transport's normal return means: a Reply it gave, else a success."""
    if isinstance(result, (Reply, Failure)):
        return result
    return Reply(200)


def _now() -> tuple[float, float]:
    return time.monotonic(), time.time()


class SyncDispatcher:
    """Calls a blocking ``transport.send(url, data, headers)`` on the caller's thread."""

    def __init__(self, transport: Any, core: DeliveryCore, raise_send_errors: bool = False) -> None:
        self.transport = transport
        self.core = core
        self.raise_send_errors = raise_send_errors
        self._last_failed = False

    def _exchange(self, request: Request) -> tuple[Outcome, Optional[BaseException]]:
        try:
            result = self.transport.send(request.url, request.body, dict(request.headers))
        except Exception as exc:
            outcome = outcome_from_exception(exc)
            self._last_failed = isinstance(outcome, Failure)
            return outcome, exc
        self._last_failed = False
        return outcome_from_result(result), None

    def submit(self, item: EventItem) -> None:
        """Send ``item`` now. Raises only with ``raise_send_errors=True`` (the transport's exception)."""
        error: Optional[BaseException] = None
        try:
            core = self.core
            now, wall = _now()
            refused = core.turn_away(item, now, can_wait=False)
            if refused is not None:
                turned = _turned_away(core, item, refused, now)
                error = turned if self.raise_send_errors else None
                return
            request = core.build_request(item, now, wall)
            outcome, error = self._exchange(request)
            decision = core.settle(request, outcome, *_now())
            log_decision(decision)
            if isinstance(decision, RetryAsStore):
                now, wall = _now()
                request = core.build_request(item, now, wall)
                outcome, error = self._exchange(request)
                decision = core.settle(request, outcome, *_now())
                log_decision(decision)
                if isinstance(decision, RetryAsStore):  # never twice
                    core.lose(item, Reason.SEND_ERROR)
        except Exception:
            errors.error("sync:submit", "Sentry: sending an event failed", exc_info=True)
        finally:
            if error is not None and self.raise_send_errors:
                raise error

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Nothing is ever pending; sends the pending client report if the server was reachable."""
        if timeout is not None and timeout <= 0:
            return True
        try:
            if not self._last_failed:
                request = self.core.report_request(*_now(), forced=True)
                if request is not None:
                    outcome, _ = self._exchange(request)
                    log_decision(self.core.settle(request, outcome, *_now()))
        except Exception:
            errors.error("sync:flush", "Sentry: sending the client report failed", exc_info=True)
        return True

    def close(self, timeout: Optional[float] = None) -> None:
        self.flush(timeout)
        close = getattr(self.transport, "close", None)
        if close is not None and _is_builtin(self.transport):
            try:
                close()
            except Exception:
                pass


class CallbackDispatcher:
    """Drives a raven 6.10-style ``async_send(url, data, headers, success_cb, error_cb)``.

    The callbacks settle the event (from whichever thread or loop calls them); at most
    ``maximum_outstanding_requests`` requests are in flight, newer events are dropped and counted as
    ``queue_overflow``. ``flush`` waits on a condition for the callbacks, so it must not be called
    from the thread (event loop) that runs them.
    """

    def __init__(self, transport: Any, core: DeliveryCore) -> None:
        self.transport = transport
        self.core = core
        self._cond = threading.Condition()
        self._outstanding = 0
        self._last_failed = False
        self._limit = int(getattr(core.options, "maximum_outstanding_requests", 100))

    def submit(self, item: EventItem) -> None:
        try:
            core = self.core
            now, wall = _now()
            refused = core.turn_away(item, now, can_wait=False)
            if refused is not None:
                _log_turned_away(item, refused)
                return
            with self._cond:
                if self._outstanding >= self._limit:
                    full = True
                else:
                    full = False
                    self._outstanding += 1
            if full:
                core.lose(item, Reason.QUEUE_OVERFLOW)
                errors.warning(
                    "callback:overflow",
                    "Sentry: %d requests already in flight (maximum_outstanding_requests); event dropped",
                    self._limit,
                )
                return
            self._start(core.build_request(item, now, wall), retried=False)
        except Exception:
            errors.error("callback:submit", "Sentry: sending an event failed", exc_info=True)

    def _start(self, request: Request, retried: bool) -> None:
        """Send ``request`` (already counted as outstanding); its callback settles it, once."""
        once = threading.Lock()
        settle: Callable[[Outcome], None] = lambda outcome: self._settle(request, outcome, retried, once)  # noqa: E731

        def success_cb(*args: Any) -> None:
            settle(outcome_from_result(args[0]) if args and isinstance(args[0], Reply) else Reply(200))

        def error_cb(exc: Optional[BaseException] = None, *args: Any) -> None:
            settle(outcome_from_exception(exc))

        try:
            self.transport.async_send(request.url, request.body, dict(request.headers), success_cb, error_cb)
        except Exception as exc:
            error_cb(exc)

    def _settle(self, request: Request, outcome: Outcome, retried: bool, once: threading.Lock) -> None:
        if not once.acquire(blocking=False):
            return  # a callback called twice, or both callbacks: the first one counts
        resent = False
        try:
            self._last_failed = isinstance(outcome, Failure)
            core = self.core
            decision = core.settle(request, outcome, *_now())
            log_decision(decision)
            if isinstance(decision, RetryAsStore) and request.item is not None:
                if retried:
                    core.lose(request.item, Reason.SEND_ERROR)
                else:
                    resent = True
                    self._start(core.build_request(request.item, *_now()), retried=True)
        except Exception:
            errors.error("callback:settle", "Sentry: settling a reply failed", exc_info=True)
        finally:
            if not resent:
                with self._cond:
                    self._outstanding -= 1
                    self._cond.notify_all()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait (at most ``timeout``, default ``shutdown_timeout``) until every callback came."""
        try:
            limit = float(self.core.options.shutdown_timeout) if timeout is None else max(0.0, float(timeout))
            deadline = time.monotonic() + limit
            if not self._last_failed:
                request = self.core.report_request(*_now(), forced=True)
                if request is not None:
                    with self._cond:
                        self._outstanding += 1
                    self._start(request, retried=True)
            with self._cond:
                while self._outstanding > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            return True
        except Exception:
            errors.error("callback:flush", "Sentry: flush failed", exc_info=True)
            return False

    def close(self, timeout: Optional[float] = None) -> None:
        self.flush(timeout)


def _log_turned_away(item: EventItem, reason: Reason = Reason.RATELIMIT_BACKOFF) -> None:
    if reason is Reason.RATELIMIT_BACKOFF:
        log_rate_limited(item.category)
    else:
        errors.warning(
            "unreachable",
            "Sentry: the server could not be reached; events are dropped until the next attempt",
        )


def _turned_away(core: DeliveryCore, item: EventItem, reason: Reason, now: float) -> BaseException:
    """Log an event the core turned away before sending; the exception ``raise_send_errors`` raises."""
    _log_turned_away(item, reason)
    if reason is Reason.RATELIMIT_BACKOFF:
        # The application handles backoff itself (raven 6.10's meaning): tell it.
        return RateLimited("rate limited by Sentry; event dropped", _limited_for(core, item, now))
    from raven.transport.http import TransportNetworkError

    pause = core.hold(now)
    return TransportNetworkError(
        Failure(FailureKind.CONNECT, f"the server could not be reached; next attempt in {pause:.1f} s")
    )


def _limited_for(core: DeliveryCore, item: EventItem, now: float) -> float:
    """Seconds left of the rate limit on ``item``'s category (0 if unknown)."""
    try:
        until: Any = core.stats().get("rate_limited_until") or {}
        deadlines = [until.get(item.category), until.get("all")]
        return max([float(d) - now for d in deadlines if d is not None] + [0.0])
    except Exception:
        return 0.0


def _is_builtin(transport: Any) -> bool:
    return type(transport).__module__.startswith("raven.transport.")


def open_dispatcher(transport: Any, core: DeliveryCore, raise_send_errors: bool = False) -> Dispatcher:
    """The dispatcher that drives ``transport`` for ``core``'s client."""
    opener = getattr(transport, "open_dispatcher", None)
    if callable(opener):
        dispatcher: Dispatcher = opener(core)
        return dispatcher
    if getattr(transport, "is_async", False) and callable(getattr(transport, "async_send", None)):
        return CallbackDispatcher(transport, core)
    return SyncDispatcher(transport, core, raise_send_errors=raise_send_errors)
