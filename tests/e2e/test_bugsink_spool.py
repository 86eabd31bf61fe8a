"""The durable spool against a real Bugsink: events captured by a process that could not reach the
server, and that then exited, are stored by Bugsink once a new process starts on the same spool
directory, each once, exactly as they were captured.

The first process has Bugsink's very DSN (the spool keeps a DSN's files apart from other DSNs'),
but cannot reach it: its ``http_proxy`` is a port on 127.0.0.1 that refuses connections, so every
send fails to connect, as when the server is down. The second process has no proxy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import BugsinkServer
from e2e_events import assert_exception_event, assert_message_event

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loops"))

import harness  # noqa: E402

CHILD = Path(__file__).parent / "children" / "spool_child.py"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy") + (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
)
#: Plain messages captured beside the message and exception events.
MORE = 8


def run_child(scenario: str, proxy: Optional[str] = None, **params: Any) -> dict[str, Any]:
    """The e2e spool child, with ``proxy`` as its only HTTP proxy (none when None)."""
    environ: dict[str, Optional[str]] = {name: None for name in PROXY_VARIABLES}
    if proxy is not None:
        environ["http_proxy"] = environ["HTTP_PROXY"] = proxy
    return harness.run_child(CHILD.name, scenario, 120.0, children=CHILD.parent, environ=environ, **params)


def test_events_of_a_process_that_could_not_reach_bugsink_are_stored_by_the_next_one(
    bugsink: BugsinkServer, bugsink_project: BugsinkProject, refused_address: tuple[str, int], tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    separator = "&" if "?" in bugsink_project.dsn else "?"
    dsn = f"{bugsink_project.dsn}{separator}spool_dir={spool_dir}"
    host, port = refused_address

    down = run_child("capture", dsn=dsn, spool_dir=str(spool_dir), more=MORE, proxy=f"http://{host}:{port}")

    ids = down["ids"]
    every_id = [ids["message"], ids["exception"], *ids["more"]]
    assert len(set(every_id)) == 2 + MORE
    assert down["stats"] == {"sent": 0, "lost": {}}, down  # kept on disk, not lost
    assert down["files_left"] == 2 + MORE, down
    assert "stays in the spool" in down["stderr"]
    assert bugsink_project.count() == 0
    assert bugsink.requests_to(bugsink_project.project_id) == []

    up = run_child("deliver", dsn=dsn, spool_dir=str(spool_dir))

    assert up["stats"] == {"sent": 2 + MORE, "lost": {}}, up
    assert up["files_left"] == 0
    assert_message_event(bugsink_project.wait_for_event(ids["message"]))
    assert_exception_event(bugsink_project.wait_for_event(ids["exception"]))
    for event_id in ids["more"]:
        stored = bugsink_project.wait_for_event(event_id)
        assert stored.message is not None and stored.message.startswith("spooled while the server is down")
    assert bugsink_project.wait_for_count(2 + MORE, timeout=10) == 2 + MORE  # each once
    requests = bugsink.wait_for_requests(bugsink_project.project_id, 2 + MORE)
    assert [line.status for line in requests] == [200] * (2 + MORE)
    assert all(line.path.endswith("/envelope/") for line in requests)
    assert sorted(os.listdir(spool_dir / ".owners")) == []  # both processes let go of the directory
