"""``kill -9``: what a process wrote to the spool before it was killed is delivered by the next
process on the directory, exactly once (at most the one event that was in flight twice).

The killed process captures in a child (``children/spool_child.py``, ``then="hold"``); the parent
watches the directory until every event has its file, kills the child with SIGKILL, starts a
recording server on the port the child used and a new child on the same directory.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from servers import Answer, LoopbackServer
from spool_support import (
    Children,
    Port,
    assert_exactly_once,
    event_files,
    event_ids,
    file_event_ids,
    read_ids,
    run,
    wait_for,
    wait_for_files,
)

COUNT = 300


def owners(spool_dir: Path) -> list[str]:
    return sorted(path.name for path in (spool_dir / ".owners").iterdir())


def test_kill_during_an_outage_then_a_new_process_delivers_every_event_once(
    port: Port, spool_dir: Path, tmp_path: Path, servers: list[LoopbackServer], children: Children
) -> None:
    dsn = port.dsn(spool_dir)
    ids_file = tmp_path / "ids.json"
    child = children.start(
        "capture", dsn=dsn, spool_dir=str(spool_dir), count=COUNT, ids_file=str(ids_file), then="hold"
    )
    wait_for(ids_file.exists, 30, lambda: f"the child's ids\n{child.output()}")
    wait_for_files(spool_dir, COUNT)
    ids = read_ids(ids_file)
    assert file_event_ids(spool_dir) == Counter(ids)  # one whole file per event

    child.kill()
    assert child.killed()
    assert len(owners(spool_dir)) == 1  # the dead owner's lock file, no longer locked
    assert file_event_ids(spool_dir) == Counter(ids)

    server = port.serve()
    servers.append(server)
    result = run("deliver", dsn=dsn, spool_dir=str(spool_dir), timeout=60)

    assert_exactly_once(event_ids([server]), set(ids))
    assert result["stats"] == {"sent": COUNT, "lost": {}}
    assert event_files(spool_dir) == []
    assert owners(spool_dir) == []  # the dead owner's and the new process's, both gone


def test_kill_with_a_send_in_flight_sends_at_most_that_event_twice(
    port: Port, spool_dir: Path, tmp_path: Path, servers: list[LoopbackServer], children: Children
) -> None:
    # A server that reads each request and never answers: the first send stays in flight (the
    # client's timeout is longer than the test), the other events wait their turn (one connection
    # until the server answers 2xx).
    port.release()
    hanging = LoopbackServer(port=port.number)
    hanging.default = Answer(action="hang")
    servers.append(hanging.start())
    dsn = port.dsn(spool_dir, "timeout=60")
    ids_file = tmp_path / "ids.json"
    child = children.start(
        "capture", dsn=dsn, spool_dir=str(spool_dir), count=COUNT, ids_file=str(ids_file), then="hold"
    )
    wait_for(ids_file.exists, 30, lambda: f"the child's ids\n{child.output()}")
    hanging.wait_for_requests(1, timeout=30)
    wait_for_files(spool_dir, COUNT)  # the one in flight has its file too
    ids = read_ids(ids_file)
    assert file_event_ids(spool_dir) == Counter(ids)
    assert len(hanging.requests) == 1 and hanging.connections == 1
    in_flight = [event["event_id"] for event in hanging.events()]
    assert len(in_flight) == 1 and in_flight[0] in ids

    child.kill()
    assert child.killed()
    hanging.stop()
    server = LoopbackServer(port=port.number).start()
    servers.append(server)
    result = run("deliver", dsn=dsn, spool_dir=str(spool_dir), timeout=60)

    # Every event arrives at the new server once; over both servers only the one that was in
    # flight when the process died arrived twice (its file could not be deleted).
    assert_exactly_once(event_ids([server]), set(ids))
    both = event_ids([hanging, server])
    assert {event_id for event_id, n in both.items() if n > 1} <= set(in_flight)
    assert max(both.values()) <= 2
    assert result["stats"] == {"sent": COUNT, "lost": {}}
    assert event_files(spool_dir) == []
