"""Lost-event accounting and client reports. No I/O.

Every event that is not delivered is counted once, under ``(reason, category)``. The counts feed
two things: ``stats()`` (totals since start) and ``client_report`` items (counts not yet reported).
An event the server refused with 429 is in the totals but never in a report: the server counted
it already (Sentry's client-report rules).

When a report goes (:class:`ReportSchedule`): it rides on the next outgoing event envelope, which
costs no request. On its own it goes at most once per :data:`REPORT_INTERVAL`, and at flush or
close. A report that failed (no reply, or any status but 2xx) is kept and merged into the next
one, and no report goes on its own for a whole interval after it, flush or not: a server that
refuses reports sees at most one report request per interval. Never one request per lost event.

Thread use: counts are updated from the caller's threads and from workers. Each update is one
``d[k] = d.get(k, 0) + n`` statement and draining uses ``dict.popitem`` (atomic under the GIL), and
nothing iterates a live dict, so nothing can raise; two updates of the same key racing can, at
worst, miscount by one, which a counter for diagnostics tolerates. No locks (no threading here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Optional

Key = tuple[str, str]

#: Seconds between two client reports sent on their own (Sentry's SDKs use the same interval).
REPORT_INTERVAL = 60.0


class ReportSchedule:
    """When a client report may be sent on its own (see the module docstring). Time is passed in.

    The first interval starts at the first :meth:`due` (or :meth:`sent`) call.
    """

    def __init__(self, interval: float = REPORT_INTERVAL) -> None:
        self.interval = interval
        self._last: Optional[float] = None  # the last report that went (alone or on an envelope)
        self._failed: Optional[float] = None  # the last lone report that did not get a 2xx

    def due(self, now: float, forced: bool = False) -> bool:
        """True if a report may go alone now; ``forced``: a flush or close asks for it."""
        if self._failed is not None and now - self._failed < self.interval:
            return False
        if forced:
            return True
        if self._last is None:
            self._last = now
            return False
        return now - self._last >= self.interval

    def sent(self, now: float) -> None:
        """A report left (alone, or riding on an event envelope)."""
        self._last = now

    def failed(self, now: float) -> None:
        """A report sent alone got no 2xx: none goes alone for an interval."""
        self._failed = now


class LostEvents:
    """Counters of lost events: totals since start, and the part not yet reported."""

    def __init__(self) -> None:
        self._totals: dict[Key, int] = {}
        self._pending: dict[Key, int] = {}

    def add(self, reason: str, category: str, quantity: int = 1, report: bool = True) -> None:
        """Count ``quantity`` events lost for ``reason``; ``report=False``: in the totals only."""
        if quantity <= 0:
            return
        key = (reason, category)
        self._totals[key] = self._totals.get(key, 0) + quantity
        if report:
            self._pending[key] = self._pending.get(key, 0) + quantity

    def has_pending(self) -> bool:
        return bool(self._pending)

    def take(self) -> dict[Key, int]:
        """Remove and return the unreported counts (to put in a report)."""
        taken: dict[Key, int] = {}
        pending = self._pending
        while True:
            try:
                key, quantity = pending.popitem()
            except KeyError:
                return taken
            taken[key] = taken.get(key, 0) + quantity

    def give_back(self, counts: Mapping[Key, int]) -> None:
        """Re-pend counts whose report did not reach the server (totals are unchanged)."""
        for key, quantity in counts.items():
            self._pending[key] = self._pending.get(key, 0) + quantity

    def totals(self) -> dict[str, int]:
        """``{"reason:category": n}`` since start."""
        return {f"{reason}:{category}": n for (reason, category), n in self._totals.copy().items()}


def report_payload(counts: Mapping[Key, int], timestamp: str) -> bytes:
    """The JSON payload of a ``client_report`` item."""
    discarded = [
        {"reason": reason, "category": category, "quantity": quantity}
        for (reason, category), quantity in sorted(counts.items())
    ]
    return json.dumps({"timestamp": timestamp, "discarded_events": discarded}, separators=(",", ":")).encode()
