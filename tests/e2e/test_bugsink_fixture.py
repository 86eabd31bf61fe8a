"""The Bugsink fixture itself, checked with hand-made requests (no raven-ng involved).

If these fail, the other end-to-end failures say nothing about the client.
"""

from __future__ import annotations

import uuid

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import BugsinkServer
from e2e_cases import LOW_QUOTA
from handmade import make_event, post_envelope, post_store

pytestmark = pytest.mark.e2e


def _wrong_key(dsn: str) -> str:
    scheme, rest = dsn.split("//", 1)
    return f"{scheme}//{uuid.uuid4().hex}@{rest.split('@', 1)[1]}"


def test_envelope_is_stored_and_read_back(bugsink_project: BugsinkProject) -> None:
    event = make_event("hand-made envelope")
    status, headers = post_envelope(bugsink_project.dsn, event)
    assert status == 200
    # Bugsink says it takes no transactions or spans, on every reply: clients must not stop errors.
    assert headers.get("x-sentry-rate-limits") == "86400:transaction;span:organization"

    stored = bugsink_project.wait_for_event(event["event_id"])
    assert (stored.level, stored.message) == ("warning", "hand-made envelope")
    assert stored.data["release"] == "fixture-1"
    assert stored.data["server_name"] == "fixture-host"
    assert stored.tags == {"kind": "hand-made"}
    assert bugsink_project.count() == 1
    assert [e.event_id for e in bugsink_project.events()] == [event["event_id"]]


def test_store_endpoint(bugsink_project: BugsinkProject) -> None:
    event = make_event("hand-made store")
    assert post_store(bugsink_project.dsn, event)[0] == 200
    assert bugsink_project.wait_for_event(event["event_id"]).message == "hand-made store"


def test_projects_are_isolated(bugsink: BugsinkServer, bugsink_project: BugsinkProject) -> None:
    event = make_event("only in the server's first project")
    assert post_envelope(bugsink.dsn, event)[0] == 200
    assert bugsink.wait_for_event(event["event_id"]).message == "only in the server's first project"
    assert event["event_id"] in [e.event_id for e in bugsink.events()]
    assert bugsink_project.lookup(event["event_id"]) is None
    assert bugsink_project.count() == 0


def test_wrong_key_is_forbidden(bugsink: BugsinkServer, bugsink_project: BugsinkProject) -> None:
    assert post_envelope(_wrong_key(bugsink_project.dsn), make_event("wrong key"))[0] == 403
    assert [line.status for line in bugsink.wait_for_requests(bugsink_project.project_id, 1)] == [403]


def test_low_quota_answers_429_with_rate_limits(
    low_quota_bugsink: BugsinkServer, low_quota_project: BugsinkProject
) -> None:
    for n in range(LOW_QUOTA):
        assert post_envelope(low_quota_project.dsn, make_event(f"within quota {n}"))[0] == 200
    status, headers = post_envelope(low_quota_project.dsn, make_event("over quota"))
    assert status == 429
    assert headers["x-sentry-rate-limits"].startswith("60::key")
    assert post_store(low_quota_project.dsn, make_event("over quota, store"))[0] == 429
    assert low_quota_project.count() == LOW_QUOTA
    lines = low_quota_bugsink.wait_for_requests(low_quota_project.project_id, LOW_QUOTA + 2)
    assert [line.status for line in lines] == [200] * LOW_QUOTA + [429, 429]
    assert lines[-1].path.endswith("/store/")
