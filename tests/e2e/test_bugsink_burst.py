"""A burst from the threaded transport: every event reaches Bugsink."""

from __future__ import annotations

from typing import Any

import pytest
from bugsink_api import BugsinkProject

pytestmark = pytest.mark.e2e

BURST = 2_000


def test_burst_from_threaded_transport_is_all_stored(
    bugsink_project: BugsinkProject, make_client: Any
) -> None:
    from raven.transport.threaded import ThreadedHTTPTransport

    # Bugsink (SQLite, 2 workers) now and then takes over a second to answer while busy; with the
    # default 1 s timeout such an event is stored yet counted as a network error.
    client = make_client(bugsink_project.dsn + "?timeout=10", ThreadedHTTPTransport)

    event_ids = {client.captureMessage("burst event", extra={"n": n}) for n in range(BURST)}

    assert len(event_ids) == BURST and None not in event_ids
    # Generous bounds: Bugsink digests each event inside its request, 50-100 per second here.
    assert client.flush(120), client.delivery_stats()
    assert bugsink_project.wait_for_count(BURST, timeout=60) == BURST
    stats = client.delivery_stats()
    assert stats["sent"] == BURST, stats
    assert not any(stats["lost"].values()), stats
