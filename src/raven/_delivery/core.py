"""The delivery core: every rule of delivery, once, for every transport. No I/O.

One :class:`DeliveryCore` per client. Adapters call it in this order for each event::

    if core.admit(item, now):                   # rate-limited categories are dropped here
        request = core.build_request(item, now, wall)
        outcome = <do the HTTP POST>             # Reply or Failure
        decision = core.settle(request, outcome, now, wall)
        if isinstance(decision, RetryAsStore):
            request = core.build_request(item, now, wall)  # now encoded for /store/
            ...

``now`` is a monotonic clock reading (seconds), ``wall`` a Unix time; the core never reads a clock.

What else the core decides for every adapter:

* :meth:`width`: how many requests may be in flight at once. One while the server's state is
  unknown (nothing answered yet) or bad (its last answer was not a 2xx, or it could not be
  reached); the adapter's connection limit once it answers 2xx. A burst against a server that
  has not answered yet, is failing, or has just said 429 never fans out.
* :meth:`hold`: the pause after the server could not be reached (``raven._delivery.backoff``).
  Adapters that can keep events (a queue) wait it out; those that cannot (the synchronous
  transports, whose caller would wait) drop what comes meanwhile (``admit(..., can_wait=False)``).
* :meth:`report_request`: whether a client report goes on its own (``raven._delivery.reports``).
* :meth:`lost_at_close`: the reason of an event still queued or in flight when a close gives up.

Accounting: an event is counted as lost exactly once, under one reason: ``ratelimit_backoff`` in
:meth:`admit`; ``network_error`` / ``send_error`` / ``ratelimit_backoff`` in :meth:`settle`;
:meth:`lost_at_close`; an adapter's own reasons through :meth:`lose` (an event it holds) or
:meth:`record_lost` (counts only). A :class:`RetryAsStore` or
:class:`RetryLater` is not a loss (the event is sent again). ``settle(..., account=False)`` updates
the state without counting (an event a close already counted). Requests carrying only a client
report are never counted as lost events.

The durable spool: an event with a ``spool_key`` has a file on disk. What would lose it because the
server could not be reached, the queue was full or a close gave up (``network_error``,
``queue_overflow``, :meth:`lost_at_close`) keeps it instead: it is not counted, the decision is
:class:`Kept`, and :attr:`spool` is told (``kept``) so that the file is sent later. Once the event
is sent, or lost for another reason (the server refused it, a rate limit), :attr:`spool` is told
``done`` and the file goes. The event a 429 refused is in :meth:`stats` but never in
a client report (the server counted it).

Thread use: the threaded transports call one core from several threads. Every state change is a
single attribute assignment or dict item update (atomic under the GIL); see ``ratelimit`` and
``reports`` for what a race can cost at worst (a counter off by one, a limit kept shorter until the
next response). Nothing here can raise because of a concurrent update. No locks: this package
imports no threading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional, Protocol

from raven._delivery.backoff import ConnectBackoff, retryable
from raven._delivery.decisions import decide_failure, decide_reply
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.envelope import Encoder, gzip_compress, rfc3339
from raven._delivery.model import (
    INTERNAL,
    Decision,
    Dropped,
    EventItem,
    Failure,
    Kept,
    Outcome,
    Reason,
    Reply,
    Request,
    RetryAsStore,
    Sent,
)
from raven._delivery.ratelimit import RateLimits
from raven._delivery.reports import Key, LostEvents, ReportSchedule, report_payload

ENVELOPE = "envelope"
STORE = "store"

#: Client errors after which a report is not given back: the server refused the request as such
#: (bad auth, bad request ...), and a report that made it refuse must not poison every envelope.
#: 404 (the store fallback), 408, 413 and 429 say nothing about the report: it is given back.
_REPORT_KEPT_4XX = frozenset({404, 408, 413, 429})


#: Reasons for which an event with a file in the spool is kept there instead of being lost.
_KEPT_BY_SPOOL = frozenset({Reason.NETWORK_ERROR, Reason.QUEUE_OVERFLOW})


class SpoolHooks(Protocol):
    """What the core tells the durable spool about events that have a file in it. Called from
    whichever thread or loop settles the event; must not block."""

    def done(self, item: EventItem) -> None:
        """The event is sent, or lost for good (counted): its file goes."""

    def kept(self, item: EventItem, reason: Reason) -> None:
        """The event could not be sent now (``reason``) and is no longer in memory: its file
        stays."""

    def holds(self, item: EventItem) -> bool:
        """True if the event has a file (or will have: it is being written); False when writing
        it failed, and the event is an ordinary one after all."""


def _gives_back_report(outcome: Outcome) -> bool:
    if isinstance(outcome, Reply):
        status = outcome.status
        if 200 <= status < 300:
            return False
        return not (400 <= status < 500) or status in _REPORT_KEPT_4XX
    return True


class DeliveryCore:
    """Delivery state of one client: rate limits, protocol fallback, lost-event counts."""

    def __init__(self, dsn: Dsn, options: TransportOptions, client_name: str) -> None:
        self.dsn = dsn
        self.options = options
        self.rate_limits = RateLimits()
        self.backoff = ConnectBackoff()
        self._encoder = Encoder(dsn, client_name, raven_store=options.raven_store)
        self._lost = LostEvents()
        self._reports = ReportSchedule()
        self._protocol = STORE if options.protocol == STORE else ENVELOPE
        self._sent = 0
        self._logged_413 = False
        self._healthy = False  # the last answer was a 2xx
        self._failures = 0  # event sends that failed since the last one that succeeded
        self._failed_at: Optional[float] = None  # Unix time of the last failed event send
        self._outcomes = 0  # event sends settled
        #: Called with ``(request, decision)`` once an event's fate is decided (sent or dropped
        #: by the server's answer or the network); set by a client whose raven 6.10 hooks
        #: (``_successful_send`` / ``_failed_send``) are overridden. Errors it raises are ignored.
        self.on_settled: Optional[Callable[[Request, Decision], None]] = None
        #: The durable spool of this client, if it has one (see the module doc).
        self.spool: Optional[SpoolHooks] = None

    @property
    def protocol(self) -> str:
        """``"envelope"``, or ``"store"`` (configured, or after the server answered 404)."""
        return self._protocol

    def admit(self, item: EventItem, now: float, can_wait: bool = True) -> bool:
        """True if the item may be sent now; else it was counted lost (see :meth:`turn_away`)."""
        return self.turn_away(item, now, can_wait) is None

    def turn_away(self, item: EventItem, now: float, can_wait: bool = True) -> Optional[Reason]:
        """None if the item may be sent now, else the reason it was counted lost under.

        ``ratelimit_backoff`` while a rate limit covers its category. ``network_error`` during a
        pause after the server could not be reached, for an adapter that cannot wait
        (``can_wait=False``): its caller is not made to wait for a server known to be away.
        """
        if self.rate_limits.is_limited(item.category, now):
            self.lose(item, Reason.RATELIMIT_BACKOFF)
            return Reason.RATELIMIT_BACKOFF
        if not can_wait and self.backoff.hold(now) > 0:
            self.lose(item, Reason.NETWORK_ERROR)
            return Reason.NETWORK_ERROR
        return None

    def width(self, limit: int) -> int:
        """Requests that may be in flight at once: ``limit`` once the server answers 2xx, else 1."""
        return max(1, limit) if self._healthy else 1

    def build_request(self, item: EventItem, now: float, wall: float) -> Request:
        """Encode the item for the current protocol, with any pending client report attached."""
        encoder = self._encoder
        if self._protocol == STORE:
            return Request(
                encoder.store_url, encoder.store_headers(), encoder.compress_store(item.payload), item, STORE
            )
        report: dict[Key, int] = {}
        extra = b""
        if self._lost.has_pending() and not self.rate_limits.is_limited(INTERNAL, now):
            report = self._lost.take()
            if report:
                extra = encoder.report_item(report_payload(report, rfc3339(wall)))
                self._reports.sent(now)
        body = gzip_compress(encoder.envelope(item.event_id, item.payload, wall, extra))
        return Request(encoder.envelope_url, encoder.envelope_headers(), body, item, ENVELOPE, report)

    def spooled_envelope(self, item: EventItem) -> bytes:
        """The file the durable spool keeps for ``item`` (an envelope without ``sent_at``)."""
        return self._encoder.spooled_envelope(item.event_id, item.payload)

    def report_request(self, now: float, wall: float, forced: bool = False) -> Optional[Request]:
        """A request carrying only the pending client report, if one should go alone now.

        ``forced``: a flush or close asks. Else at most once per ``REPORT_INTERVAL``; never within
        an interval after a lone report failed (see ``raven._delivery.reports``). None also when
        nothing is pending, when the server rate-limits the ``internal`` category, and in store
        mode (the store endpoint takes no reports; the counts stay in :meth:`stats`).
        """
        if self._protocol == STORE or not self._lost.has_pending():
            return None
        if self.rate_limits.is_limited(INTERNAL, now) or not self._reports.due(now, forced):
            return None
        report = self._lost.take()
        if not report:
            return None
        self._reports.sent(now)
        encoder = self._encoder
        body = gzip_compress(encoder.report_envelope(report_payload(report, rfc3339(wall)), wall))
        return Request(encoder.envelope_url, encoder.envelope_headers(), body, None, ENVELOPE, report)

    def settle(
        self,
        request: Request,
        outcome: Outcome,
        now: float,
        wall: float,
        can_retry: bool = False,
        account: bool = True,
    ) -> Decision:
        """Interpret what the server (or the network) answered, update the state, decide.

        ``wall`` is needed only to read a ``Retry-After`` given as an HTTP date. ``can_retry``: the
        adapter can keep the event and wait :meth:`hold` (a queue); then a failed connection gives
        :class:`RetryLater` instead of a loss, a few times (``backoff``). ``account=False``: the
        event was already counted (a close gave up on it); only the state is updated.
        """
        item = request.item
        decision: Decision
        self._healthy = isinstance(outcome, Reply) and 200 <= outcome.status < 300
        if item is None and not self._healthy:
            self._reports.failed(now)
        if isinstance(outcome, Reply):
            self.backoff.answered()
            category = item.category if item is not None else INTERNAL
            self.rate_limits.update(outcome.status, outcome.headers, now, wall, category)
            decision = decide_reply(request, outcome, log_413=not self._logged_413)
            if outcome.status == 413:
                self._logged_413 = True
        elif isinstance(outcome, Failure):
            delay = self.backoff.failed(outcome.kind, now)
            spooled = item is not None and self.parks(item)
            retry = can_retry and account and item is not None and retryable(outcome.kind, item.attempts + 1)
            decision = decide_failure(request, outcome, delay if retry else None, spooled=spooled)
        else:  # an adapter bug; still account for the event
            decision = Dropped(
                item.event_id if item is not None else None,
                Reason.SEND_ERROR,
                f"internal error: unexpected outcome {type(outcome).__name__}",
            )

        if request.report and _gives_back_report(outcome):
            self._lost.give_back(request.report)

        if isinstance(decision, RetryAsStore):
            self._protocol = STORE
            if item is None:  # a lone report cannot go to /store/: nothing to retry
                return Dropped(None, Reason.SEND_ERROR, decision.log, 404)
            if not account:
                return Dropped(item.event_id, Reason.SEND_ERROR, None, 404)
            return decision
        spool = self.spool if item is not None and item.spool_key is not None else None
        if spool is not None and item is not None:
            if isinstance(decision, Kept):
                spool.kept(item, Reason.NETWORK_ERROR)
            elif isinstance(decision, (Sent, Dropped)):
                spool.done(item)  # sent, or refused by the server: the file goes
        if item is not None and account:
            self._outcomes += 1
            if isinstance(decision, Sent):
                self._sent += 1
                self._failures = 0
            else:
                self._failures += 1
                self._failed_at = wall
                if isinstance(decision, Dropped):
                    # The server counted the event it refused with 429: no client report for it.
                    self._lost.add(decision.reason.value, item.category, report=decision.status != 429)
            listener = self.on_settled
            if listener is not None and isinstance(decision, (Sent, Dropped)):
                try:
                    listener(request, decision)
                except Exception:  # a user's hook must not break delivery
                    pass
        return decision

    def health(self) -> dict[str, Any]:
        """``{"failures", "failed_at", "outcomes"}``: consecutive failed event sends, the Unix
        time of the last one, and how many event sends were settled (``client.state`` reads it)."""
        return {"failures": self._failures, "failed_at": self._failed_at, "outcomes": self._outcomes}

    def limited_for(self, category: str, now: float) -> float:
        """Seconds left of the rate limit covering ``category`` (0 when none does)."""
        until = self.rate_limits.until(category)
        return max(0.0, until - now) if until is not None else 0.0

    def limit_length(self, category: str) -> float:
        """The seconds the server asked for in the limit covering ``category`` (its Retry-After)."""
        return self.rate_limits.length(category)

    def give_back(self, request: Request) -> None:
        """A request that was never sent: its client report's counts are pending again."""
        if request.report:
            self._lost.give_back(request.report)

    def hold(self, now: float) -> float:
        """Seconds a queueing adapter should wait before its next request (0: go ahead)."""
        return self.backoff.hold(now)

    def lost_at_close(self, item: EventItem, now: float) -> Optional[Reason]:
        """Count an event still queued or in flight when a close stopped waiting; its reason.

        ``ratelimit_backoff`` if a rate limit covers it (it would not have been sent), else
        ``network_error``: the server did not take it in the time the close allowed. None: the
        event has a file in the spool, which keeps it for the next start (not counted).
        """
        reason = (
            Reason.RATELIMIT_BACKOFF
            if self.rate_limits.is_limited(item.category, now)
            else Reason.NETWORK_ERROR
        )
        if self.spool is not None and self.parks(item):
            self.spool.kept(item, reason)
            return None
        self._lost.add(reason.value, item.category)
        return reason

    def parks(self, item: EventItem) -> bool:
        """True if ``item`` goes back to the spool when the server cannot be reached (it has a
        file there), instead of waiting in memory: adapters then empty their queues of such
        events after a :class:`Kept` decision (:meth:`lose` with ``network_error``)."""
        spool = self.spool
        return item.spool_key is not None and spool is not None and spool.holds(item)

    def take_parked(self, queue: deque[Any]) -> list[EventItem]:
        """Removes from an adapter's ``queue`` (in place, order kept) the events that
        :meth:`parks`, and returns them: the adapter settles them with :meth:`lose`
        (``network_error``) once it has updated its own counts."""
        parked: list[EventItem] = []
        for _ in range(len(queue)):
            entry = queue.popleft()
            if isinstance(entry, EventItem) and self.parks(entry):
                parked.append(entry)
            else:
                queue.append(entry)
        return parked

    def lose(self, item: EventItem, reason: Reason) -> bool:
        """An adapter gives up on ``item`` for ``reason``: count it, unless the spool keeps it
        (see the module doc). True if it was counted."""
        spool = self.spool if item.spool_key is not None else None
        if spool is not None and reason in _KEPT_BY_SPOOL and spool.holds(item):
            spool.kept(item, reason)
            return False
        self._lost.add(reason.value, item.category)
        if spool is not None:
            spool.done(item)
        return True

    def record_lost(self, reason: Reason, category: str, quantity: int = 1) -> None:
        """Count events lost outside the core (queue overflow, sampling, before_send)."""
        self._lost.add(reason.value if isinstance(reason, Reason) else str(reason), category, quantity)

    def stats(self) -> Mapping[str, object]:
        """Counters for users and tests: ``{"sent": n, "lost": {"reason:category": n}}``.

        ``rate_limited_until`` maps each category ever limited (``"all"`` for every category) to
        its deadline on the monotonic clock the adapter passes as ``now``.
        """
        return {
            "sent": self._sent,
            "lost": self._lost.totals(),
            "rate_limited_until": self.rate_limits.snapshot(),
        }
