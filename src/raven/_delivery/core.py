"""The delivery core: every rule of delivery, once, for every transport. No I/O.

One :class:`DeliveryCore` per client. Adapters call it in this order for each event::

    if core.admit(item, now):                   # rate-limited categories are dropped here
        request = core.build_request(item, now, wall)
        outcome = <do the HTTP POST>             # Reply or Failure
        decision = core.settle(request, outcome, now)
        if isinstance(decision, RetryAsStore):
            request = core.build_request(item, now, wall)  # now encoded for /store/
            ...

``now`` is a monotonic clock reading (seconds), ``wall`` a Unix time; the core never reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.model import Decision, EventItem, Outcome, Reason, Request


class DeliveryCore:
    """Delivery state of one client: rate limits, protocol fallback, lost-event counts."""

    def __init__(self, dsn: Dsn, options: TransportOptions, client_name: str) -> None:
        raise NotImplementedError

    def admit(self, item: EventItem, now: float) -> bool:
        """True if the item may be sent now; else it is counted as ``ratelimit_backoff``."""
        raise NotImplementedError

    def build_request(self, item: EventItem, now: float, wall: float) -> Request:
        """Encode the item for the current protocol, with any pending client report attached."""
        raise NotImplementedError

    def report_request(self, now: float, wall: float) -> Optional[Request]:
        """A request carrying only the pending client report, or None if nothing is pending."""
        raise NotImplementedError

    def settle(self, request: Request, outcome: Outcome, now: float) -> Decision:
        """Interpret what the server (or the network) answered, update the state, decide."""
        raise NotImplementedError

    def record_lost(self, reason: Reason, category: str, quantity: int = 1) -> None:
        """Count events lost outside the core (queue overflow, sampling, before_send)."""
        raise NotImplementedError

    def stats(self) -> Mapping[str, object]:
        """Counters for users and tests: ``{"sent": n, "lost": {"reason:category": n}}``."""
        raise NotImplementedError
