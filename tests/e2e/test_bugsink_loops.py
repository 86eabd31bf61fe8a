"""The event-loop transports' events are stored by Bugsink as sent: message, exception, store endpoint.

The same events and checks as test_bugsink_events.py (e2e_events.py), but each family runs in
its own child process (children/loop_child.py), since monkeypatching cannot be undone: Bugsink
and the assertions stay here, the child captures inside its running loop and reports the event
ids and its delivery stats.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import BugsinkServer
from e2e_cases import LOOP_TRANSPORTS, TransportCase
from e2e_events import (
    assert_all_sent,
    assert_exception_event,
    assert_message_event,
    assert_sent_to_store,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loops"))

from harness import run_child  # noqa: E402

pytestmark = pytest.mark.e2e

CHILDREN = Path(__file__).parent / "children"


def run_loop_child(case: TransportCase, dsn: str, *captures: str) -> dict[str, Any]:
    """Capture ``captures`` (names of loop_child.CAPTURES) with ``case``'s transport, in its child."""
    case.skip_unless_installed()
    result = run_child(
        "loop_child.py",
        case.name,
        timeout=120,
        children=CHILDREN,
        dsn=dsn,
        transport=case.path,
        captures=list(captures),
    )
    assert result["transport"] == case.path.rpartition(":")[2], result
    assert result["flushed"] is True, result
    return result


@pytest.mark.parametrize("case", LOOP_TRANSPORTS, ids=lambda case: case.name)
def test_loop_message_event(case: TransportCase, bugsink_project: BugsinkProject) -> None:
    result = run_loop_child(case, bugsink_project.dsn, "message")

    assert_message_event(bugsink_project.wait_for_event(result["ids"]["message"]))
    assert_all_sent(result["stats"], 1)


@pytest.mark.parametrize("case", LOOP_TRANSPORTS, ids=lambda case: case.name)
def test_loop_exception_event(case: TransportCase, bugsink_project: BugsinkProject) -> None:
    result = run_loop_child(case, bugsink_project.dsn, "exception")

    assert_exception_event(bugsink_project.wait_for_event(result["ids"]["exception"]))
    assert_all_sent(result["stats"], 1)


@pytest.mark.parametrize("case", LOOP_TRANSPORTS, ids=lambda case: case.name)
def test_loop_store_endpoint(
    case: TransportCase, bugsink: BugsinkServer, bugsink_project: BugsinkProject
) -> None:
    result = run_loop_child(case, bugsink_project.dsn + "?protocol=store", "message", "exception")

    ids = result["ids"]
    assert_sent_to_store(bugsink, bugsink_project, ids["message"], ids["exception"], result["stats"])
