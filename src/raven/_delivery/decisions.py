"""What a reply or a failure means for the event: pure functions, no state, no I/O.

============================  ==========================================================
outcome                       decision
============================  ==========================================================
2xx                           Sent
429                           Dropped(ratelimit_backoff); never retried
413                           Dropped(send_error); logged only the first time; never retried
404 from ``/envelope/``       RetryAsStore (the server predates envelopes, Sentry < 20.6)
404 from ``/store/``          Dropped(send_error)
any other status              Dropped(send_error), logged with the status and the
                              ``X-Sentry-Error`` header or the start of the body
network failure               Dropped(network_error), logged with its kind and detail
connection failure, when the  RetryLater (``backoff``: the event waits, at most a few
adapter can keep the event    tries), logged with its kind and detail
============================  ==========================================================

State changes (the rate limits, the protocol switch, the 413 flag) are the core's job.
"""

from __future__ import annotations

import json
from typing import Optional

from raven._delivery.model import (
    Decision,
    Dropped,
    Failure,
    Kept,
    Reason,
    Reply,
    Request,
    RetryAsStore,
    RetryLater,
    Sent,
)

#: Longest server text (``X-Sentry-Error`` or body) quoted in a log message.
MAX_SNIPPET = 200
#: Bodies longer than this are not parsed as JSON, only quoted.
_MAX_JSON_BODY = 8192


def _clean(text: str, limit: int = MAX_SNIPPET) -> str:
    """One printable line, at most ``limit`` characters."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text[: limit * 4]).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def server_message(reply: Reply) -> str:
    """What the server said about an error: ``X-Sentry-Error``, a JSON ``detail``, or the body."""
    header = reply.headers.get("x-sentry-error")
    if isinstance(header, str) and header.strip():
        return _clean(header)
    body = reply.body if isinstance(reply.body, (bytes, bytearray)) else b""
    if not body:
        return ""
    if len(body) <= _MAX_JSON_BODY and body.lstrip()[:1] == b"{":
        try:
            detail = json.loads(body).get("detail")
        except (ValueError, AttributeError, RecursionError):
            detail = None
        if isinstance(detail, str) and detail.strip():
            return _clean(detail)
    return _clean(bytes(body[: MAX_SNIPPET * 4]).decode("utf-8", "replace"))


def _what(request: Request) -> str:
    return f"event {request.item.event_id}" if request.item is not None else "client report"


def decide_reply(request: Request, reply: Reply, log_413: bool = True) -> Decision:
    """The decision for an HTTP reply. ``log_413``: whether a 413 should still be logged."""
    event_id = request.item.event_id if request.item is not None else None
    status = reply.status
    if 200 <= status < 300:
        return Sent(event_id)
    if status == 429:
        return Dropped(
            event_id,
            Reason.RATELIMIT_BACKOFF,
            f"Sentry rate limit (HTTP 429): {_what(request)} dropped; sending paused",
            status,
        )
    if status == 413:
        log: Optional[str] = None
        if log_413:
            log = (
                f"Sentry refused {_what(request)} as too large (HTTP 413, {len(request.body)} bytes sent); "
                "it is dropped (logged once)"
            )
        return Dropped(event_id, Reason.SEND_ERROR, log, status)
    if status == 404 and request.protocol == "envelope":
        return RetryAsStore(
            event_id, f"Sentry answered 404 at {request.url}; switching to the store endpoint"
        )
    said = server_message(reply)
    return Dropped(
        event_id,
        Reason.SEND_ERROR,
        f"Sentry responded with HTTP {status} to {_what(request)}" + (f": {said}" if said else ""),
        status,
    )


def decide_failure(
    request: Request, failure: Failure, retry_in: Optional[float] = None, spooled: bool = False
) -> Decision:
    """The decision for a request that got no HTTP reply; ``retry_in``: keep the event for later
    in memory; ``spooled``: the event has a file in the durable spool, which keeps it (Sentry's
    offline-caching rule: network errors and timeouts keep a cached envelope)."""
    event_id = request.item.event_id if request.item is not None else None
    kind = getattr(failure.kind, "value", str(failure.kind))
    detail = _clean(str(failure.detail)) if failure.detail else ""
    what = f"Sending {_what(request)} to {request.url} failed ({kind} error" + (
        f": {detail})" if detail else ")"
    )
    if spooled:
        return Kept(event_id, f"{what}; the event stays in the spool")
    if retry_in is not None:
        return RetryLater(event_id, retry_in, f"{what}; trying again in {retry_in:g} s")
    return Dropped(event_id, Reason.NETWORK_ERROR, what)
