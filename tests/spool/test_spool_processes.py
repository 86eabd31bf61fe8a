"""Several processes on one spool directory: during an outage each writes its own files; when the
server is back every event arrives once, whoever sends it.

* The capturing processes are gone (killed with SIGKILL, or closed cleanly) and as many new
  processes start at once on the directory: they compete for the files of the owners that are
  gone (a file is sent by the process that holds its lock, and deleted under it).
* The capturing processes stay alive: each sends its own files (no other process touches the
  files of an owner that lives).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
from servers import LoopbackServer
from spool_support import (
    Child,
    Children,
    Port,
    assert_exactly_once,
    event_files,
    event_ids,
    file_event_ids,
    read_ids,
    wait_for,
    wait_for_files,
)

#: processes -> events each captures
SIZES = [pytest.param(2, 150, id="2x150"), pytest.param(8, 50, id="8x50")]


def start_capturing(
    children: Children,
    dsn: str,
    spool_dir: Path,
    tmp_path: Path,
    processes: int,
    count: int,
    then: Callable[[int], str],
) -> list[tuple[Child, Path]]:
    """Start ``processes`` children capturing ``count`` events each (all at once); wait until each
    has captured (its ids written)."""
    started = []
    for n in range(processes):
        ids_file = tmp_path / f"ids{n}.json"
        child = children.start(
            "capture",
            name=f"capture{n}",
            dsn=dsn,
            spool_dir=str(spool_dir),
            count=count,
            ids_file=str(ids_file),
            label=f"process {n}",
            then=then(n),
            go=str(tmp_path / "go"),
        )
        started.append((child, ids_file))
    for child, ids_file in started:
        wait_for(ids_file.exists, 30, child.output)  # what it wrote so far, if it never does
    return started


@pytest.mark.parametrize(("processes", "count"), SIZES)
def test_new_processes_share_the_files_of_processes_that_are_gone(
    processes: int,
    count: int,
    port: Port,
    spool_dir: Path,
    tmp_path: Path,
    servers: list[LoopbackServer],
    children: Children,
) -> None:
    dsn = port.dsn(spool_dir)
    # Every other process is killed; the others close (0.5 s) and exit during the outage.
    capturing = start_capturing(
        children, dsn, spool_dir, tmp_path, processes, count, lambda n: "hold" if n % 2 == 0 else "close"
    )
    for child, _ in capturing[1::2]:
        result = child.result(30)
        assert result["stats"] == {"sent": 0, "lost": {}}  # kept on disk, not lost
    total = processes * count
    wait_for_files(spool_dir, total)
    for child, _ in capturing[0::2]:
        child.kill()
        assert child.killed()
    ids = [event_id for _, ids_file in capturing for event_id in read_ids(ids_file)]
    assert len(set(ids)) == total
    assert file_event_ids(spool_dir) == Counter(ids)

    server = port.serve()
    servers.append(server)
    delivering = [
        children.start("deliver", name=f"deliver{n}", dsn=dsn, spool_dir=str(spool_dir))
        for n in range(processes)
    ]
    results = [child.result(60) for child in delivering]

    assert_exactly_once(event_ids([server]), set(ids))
    assert sum(result["stats"]["sent"] for result in results) == total
    assert [result["stats"]["lost"] for result in results] == [{}] * processes
    assert event_files(spool_dir) == []
    assert list((spool_dir / ".owners").iterdir()) == []


@pytest.mark.parametrize(("processes", "count"), SIZES)
def test_processes_alive_across_the_recovery_each_send_their_own_files(
    processes: int,
    count: int,
    port: Port,
    spool_dir: Path,
    tmp_path: Path,
    servers: list[LoopbackServer],
    children: Children,
) -> None:
    dsn = port.dsn(spool_dir)
    # Each stays alive until the directory is empty (once told the server is up), then closes.
    capturing = start_capturing(children, dsn, spool_dir, tmp_path, processes, count, lambda n: "drain")
    total = processes * count
    wait_for_files(spool_dir, total)
    ids = [event_id for _, ids_file in capturing for event_id in read_ids(ids_file)]
    assert len(set(ids)) == total
    assert file_event_ids(spool_dir) == Counter(ids)

    server = port.serve()
    servers.append(server)
    (tmp_path / "go").touch()
    results = [child.result(60) for child, _ in capturing]

    assert_exactly_once(event_ids([server]), set(ids))
    # Each process sent exactly its own events: no one touched the files of a living owner.
    for (_, ids_file), result in zip(capturing, results):
        assert result["stats"] == {"sent": count, "lost": {}}
        assert result["ids"] == read_ids(ids_file)
    assert event_files(spool_dir) == []
    assert list((spool_dir / ".owners").iterdir()) == []
