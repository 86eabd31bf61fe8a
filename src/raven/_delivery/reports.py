"""Lost-event accounting and client reports. No I/O.

Every event that is not delivered is counted once, under ``(reason, category)``. The counts feed
two things: ``stats()`` (totals since start) and ``client_report`` items (counts not yet reported),
which ride along with the next outgoing envelope, or go alone at flush/close; never one request
per lost event.

Thread use: counts are updated from the caller's threads and from workers. Each update is one
``d[k] = d.get(k, 0) + n`` statement and draining uses ``dict.popitem`` (atomic under the GIL), and
nothing iterates a live dict, so nothing can raise; two updates of the same key racing can, at
worst, miscount by one, which a counter for diagnostics tolerates. No locks (no threading here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

Key = tuple[str, str]


class LostEvents:
    """Counters of lost events: totals since start, and the part not yet reported."""

    def __init__(self) -> None:
        self._totals: dict[Key, int] = {}
        self._pending: dict[Key, int] = {}

    def add(self, reason: str, category: str, quantity: int = 1) -> None:
        """Count ``quantity`` events lost for ``reason``."""
        if quantity <= 0:
            return
        key = (reason, category)
        self._totals[key] = self._totals.get(key, 0) + quantity
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
