"""The values that travel between the client, the delivery core and the I/O adapters.

Everything here is immutable. An adapter receives a :class:`Request`, and answers with a
:class:`Reply` (any HTTP status) or a :class:`Failure` (no HTTP status at all); the core turns either
into a :class:`Decision` that says what happened to the event and what to log.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Union

#: Data category of error and message events (Sentry treats "default" events as errors).
ERROR = "error"
#: Data category of client reports.
INTERNAL = "internal"


class Reason(str, enum.Enum):
    """Why an event was not delivered: the ``reason`` of a client report."""

    QUEUE_OVERFLOW = "queue_overflow"
    CACHE_OVERFLOW = "cache_overflow"
    RATELIMIT_BACKOFF = "ratelimit_backoff"
    NETWORK_ERROR = "network_error"
    SEND_ERROR = "send_error"
    SAMPLE_RATE = "sample_rate"
    BEFORE_SEND = "before_send"
    EVENT_PROCESSOR = "event_processor"


class EventItem(NamedTuple):
    """An event ready to deliver: its JSON bytes, serialized on the caller's thread.

    A named tuple, not a frozen dataclass: one is made on every capture, and a tuple is built
    three times faster.
    """

    event_id: str
    payload: bytes
    category: str = ERROR
    #: Failed connection attempts so far (see ``raven._delivery.backoff``).
    attempts: int = 0
    #: The name of its file in the durable spool (``raven._runtime.spool``), if it has one: the
    #: event is then kept on disk, not lost, when it cannot be sent now.
    spool_key: Optional[str] = None

    def retried(self) -> EventItem:
        """The same event, one failed connection attempt later."""
        return self._replace(attempts=self.attempts + 1)


@dataclass(frozen=True)
class Request:
    """One HTTP POST to make. ``headers`` keys are in their canonical spelling."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    item: Optional[EventItem]
    protocol: str = "envelope"
    #: Lost-event counts carried in this request's client report, given back if it fails.
    report: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What the server answered. ``headers`` keys are lowercase."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class FailureKind(str, enum.Enum):
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    READ = "read"
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    """No usable HTTP reply: the connection could not be made, timed out, or broke."""

    kind: FailureKind
    detail: str = ""


@dataclass(frozen=True)
class Sent:
    event_id: Optional[str]
    log: Optional[str] = None


@dataclass(frozen=True)
class Dropped:
    """The event is lost; it was counted under ``reason``."""

    event_id: Optional[str]
    reason: Reason
    log: Optional[str] = None
    status: Optional[int] = None


@dataclass(frozen=True)
class RetryAsStore:
    """The server has no envelope endpoint: send the same event again to the store endpoint."""

    event_id: Optional[str]
    log: Optional[str] = None


@dataclass(frozen=True)
class RetryLater:
    """The server could not be reached: keep the event, try again in ``delay`` seconds."""

    event_id: Optional[str]
    delay: float
    log: Optional[str] = None


@dataclass(frozen=True)
class Kept:
    """The server could not be reached: the event stays in the durable spool, to be sent later."""

    event_id: Optional[str]
    log: Optional[str] = None


Decision = Union[Sent, Dropped, RetryAsStore, RetryLater, Kept]
Outcome = Union[Reply, Failure]
