"""raven 6.10's ``AsyncSentryClient``, on raven-ng's Tornado transport.

Kept from raven 6.10:

* ``capture(...)`` (so ``captureException`` / ``captureMessage`` ...) returns
  ``(event_id, future)``, the future resolved when the event's fate is known; it takes a
  ``callback=`` keyword, called once with the outcome (the ``gen.Task`` idiom of raven's docs);
* the send chain ``send(callback=..., **data)`` -> ``encode`` -> ``send_encoded`` ->
  ``send_remote(url, data, headers, callback)`` -> ``_send_remote(...)``, each returning the
  future and each overridable; when the future resolves, ``_failed_send(exc, url, data)`` (the
  event decoded) or ``_successful_send()`` is called, on the IOLoop the send was made on;
* ``validate_cert=False`` turns certificate checks off (the DSN's ``verify_ssl=0``).

Better than raven 6.10 (whose client fails on Tornado 5 and later):

* Events go through raven-ng's Tornado transport (``AsyncHTTPClient`` on the running IOLoop, never
  blocking it) with its bounded queue, connection limit, rate limits, retries and lost-event
  accounting; raven 6.10 opened one unbounded ``fetch`` per event. Any other ``transport=`` works
  too (its events get futures as well).
* ``ignore_exceptions``, ``sample_rate`` and the already-captured check apply, as for ``Client``
  (raven 6.10's async ``capture`` skipped them).
* The future's result is the event id; its exception says why the event was lost. The
  ``callback`` gets the event id, or None when the event was lost.
* Nothing raises into the caller: a failing build or encoding is logged on ``sentry.errors``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from raven._delivery.model import Reason
from raven._runtime import logs as _logs
from raven.base import Client, _as_exc_info, _hook_exception
from raven.contrib.tornado.outcomes import AnyFuture, Outcomes, make_future
from raven.events.build import EVENT_KINDS, is_event_id, new_event_id
from raven.exceptions import RateLimited
from raven.transport.tornado import TornadoHTTPTransport

__all__ = ("AsyncSentryClient",)

_VERIFY_OPTIONS = ("verify_ssl", "validate_cert")


def _without_cert_checks(dsn: str) -> str:
    """``dsn`` with ``verify_ssl=0``, unless it says something about certificates already."""
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name in _VERIFY_OPTIONS for name, _ in query):
        return dsn
    return urlunsplit(parts._replace(query=urlencode([*query, ("verify_ssl", "0")])))


class AsyncSentryClient(Client):
    """A Client whose captures return ``(event_id, future)`` (see the module documentation)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.validate_cert = bool(kwargs.pop("validate_cert", True))
        if kwargs.get("transport") is None:
            kwargs["transport"] = TornadoHTTPTransport
        self._outcomes = Outcomes(self._explain, self._unsent)
        super().__init__(*args, **kwargs)

    # -- configuration

    def set_dsn(self, dsn: Optional[str] = None, transport: Optional[type] = None) -> None:
        if not self.validate_cert:
            import os

            dsn = dsn or os.environ.get("SENTRY_DSN") or None
            if dsn:
                dsn = _without_cert_checks(dsn)
        super().set_dsn(dsn, transport)

    def _rebuild_delivery(self) -> None:
        super()._rebuild_delivery()
        if self._core is not None:
            # Our futures take the core's word on each event; the hooks follow from them
            # (``_handle_result``), so the base class must not call them a second time.
            self._core.on_settled = self._outcomes.settled

    # -- capture

    def capture(  # type: ignore[override]
        self,
        event_type: str,
        data: Any = None,
        date: Any = None,
        time_spent: Any = None,
        extra: Any = None,
        stack: Any = None,
        tags: Any = None,
        sample_rate: Optional[float] = None,
        callback: Optional[Callable[[Any], Any]] = None,
        **kwargs: Any,
    ) -> Optional[tuple[str, Any]]:
        """Build an event and send it: ``(event_id, future)``, or None if not captured (then
        ``callback``, if given, is called with None at once, so a coroutine waiting on it goes on)."""
        captured = None
        try:
            captured = self._capture(
                event_type, data, date, time_spent, extra, stack, tags, sample_rate, callback, kwargs
            )
        except Exception:
            _logs.errors.error("client:capture", "Sentry: could not capture an event", exc_info=True)
        if captured is None and callback is not None:
            _call_back(callback, None)
        return captured

    def _capture(
        self,
        event_type: str,
        data: Any,
        date: Any,
        time_spent: Any,
        extra: Any,
        stack: Any,
        tags: Any,
        sample_rate: Optional[float],
        callback: Optional[Callable[[Any], Any]],
        kwargs: dict[str, Any],
    ) -> Optional[tuple[str, Any]]:
        if self._closed or not self.is_enabled():
            return None
        try:
            if not self._wanted(event_type, kwargs):
                return None
            rate = self.sample_rate if sample_rate is None else float(sample_rate)
            if not self._random.random() < rate:
                self._record_lost(Reason.SAMPLE_RATE)
                return None
            event = self.build_msg(event_type, data, date, time_spent, extra, stack, tags=tags, **kwargs)
            if event is None:
                return None
            event_id = str(event["event_id"])
        except Exception:
            _logs.errors.error("client:build", "Sentry: could not build an event", exc_info=True)
            return None
        future = self.send(callback=callback, **event)
        self._local_state.last_event_id = event_id
        return event_id, future

    def _wanted(self, event_type: str, kwargs: dict[str, Any]) -> bool:
        """The exception filters of ``Client.capture``; ``kwargs['exc_info']`` made usable."""
        exc_info = kwargs.get("exc_info")
        is_exception = EVENT_KINDS.get(event_type) == "exception"
        if exc_info is None and not is_exception:
            return True
        exc_info = _as_exc_info(exc_info)
        if exc_info is None:
            return not is_exception
        if self.skip_error_for_logging(exc_info) or not self.should_capture(exc_info):
            return False
        self.record_exception_seen(exc_info)
        kwargs["exc_info"] = exc_info
        return True

    # -- raven 6.10's send chain, each step returning the future

    def send(self, auth_header: Any = None, callback: Any = None, **data: Any) -> Any:
        """Encode the event and pass it on to :meth:`send_encoded`; returns its future."""
        try:
            message = self.encode(data)
        except Exception as exc:
            _logs.errors.error("client:encode", "Sentry: could not serialize an event", exc_info=True)
            return _failed_future(exc)
        return self.send_encoded(message, auth_header=auth_header, callback=callback)

    def send_remote(self, url: Any, data: bytes, headers: Any = None, callback: Any = None) -> Any:
        """Hand the encoded event to delivery; its future calls the hooks and ``callback``."""
        future = self._send_remote(url=url, data=data, headers=headers or {}, callback=callback)
        _when_done(future, partial(self._handle_result, url, data, callback))
        return future

    def _send_remote(self, url: Any, data: bytes, headers: Any = None, callback: Any = None) -> AnyFuture:
        """The event goes to the transport; the future says what became of it."""
        try:
            event = self.decode(data)
        except Exception as exc:
            return _failed_future(exc)
        if not isinstance(event, dict) or self._closed:
            return _failed_future(self._unsent())
        event_id = event.get("event_id")
        if not is_event_id(event_id):
            event_id = new_event_id()
            event["event_id"] = event_id
        event_id = str(event_id)
        future = self._outcomes.expect(event_id)
        self._deliver(event)
        when_settled = getattr(self._dispatcher, "when_settled", None)
        if self._dispatcher is None:
            self._outcomes.give_up(event_id)  # nothing took it (the client closed, or it failed)
        elif when_settled is not None:
            when_settled(partial(self._outcomes.give_up, event_id))
        return future

    def _handle_result(self, url: Any, data: bytes, callback: Any, future: Any) -> None:
        """raven 6.10's: the outcome of one event, to its hooks and callback (never raises)."""
        result: Any = None
        try:
            try:
                result = future.result()
            except Exception as exc:
                try:
                    decoded = self.decode(data)
                except Exception:
                    decoded = data
                self._failed_send(exc, url, decoded)
            else:
                self._successful_send()
        except Exception:
            _logs.errors.error("client:hooks", "Sentry: an event's hook failed", exc_info=True)
        if callback is not None:
            _call_back(callback, result)

    # -- what a lost event's future holds

    def _explain(self, decision: Any) -> BaseException:
        return _hook_exception(decision, self._core)

    def _unsent(self) -> BaseException:
        core = self._core
        left = core.limited_for("error", time.monotonic()) if core is not None else 0.0
        if left > 0:
            return RateLimited("Sentry: event dropped, rate limited", left)
        return ConnectionError("Sentry: event dropped before it was sent (queue full, or the client closed)")


def _failed_future(exc: BaseException) -> AnyFuture:
    future = make_future()
    future.set_exception(exc)
    future.add_done_callback(lambda done: done.exception())  # no "never retrieved" warning
    return future


def _call_back(callback: Callable[[Any], Any], value: Any) -> None:
    try:
        callback(value)
    except Exception:
        _logs.errors.error("client:callback", "Sentry: a capture callback failed", exc_info=True)


def _when_done(future: Any, callback: Callable[[Any], None]) -> None:
    """``callback(future)`` once it is done: on the running IOLoop (raven 6.10's ``add_future``),
    else where it resolves."""
    try:
        from tornado.ioloop import IOLoop

        from raven._runtime.aio import running_loop

        if running_loop() is not None:
            IOLoop.current().add_future(future, callback)
            return
    except Exception:
        pass
    try:
        future.add_done_callback(callback)
    except Exception:
        _logs.errors.error("client:future", "Sentry: could not follow an event's future", exc_info=True)
