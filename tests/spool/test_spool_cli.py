"""``raven spool DIR``, run as users run it (a subprocess): what it says about a spool directory,
``--replay`` sending the files of one DSN to a recording server, ``--purge`` deleting files but
not those of a running process, and bad input refused with one line and status 2.

The files come from real clients during an outage (the server's port refuses; a recording server
takes the port later) and from crafted files (another DSN, old capture times).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from crafted import make_client, run_cli, tag_of, write_file
from servers import Answer, LoopbackServer
from spool_support import Port, event_files, event_ids, file_event_ids, wait_for

#: A DSN nothing is sent to in these tests.
DEAD_DSN = "http://k@127.0.0.1:9/1"


def outage_files(dsn: str, spool_dir: Path, count: int) -> list[str]:
    """Capture ``count`` events while ``dsn``'s server refuses, close: their ids (files on disk,
    owned by nobody once the client closed)."""
    client = make_client(dsn, spool_dir=str(spool_dir))
    try:
        ids = [client.captureMessage(f"outage event {n}") for n in range(count)]
        assert client.flush(10)
    finally:
        client.close(1)
    assert sorted(file_event_ids(spool_dir)) == sorted(ids)
    return ids


def files_of(spool_dir: Path, dsn: str) -> list[str]:
    tag = tag_of(dsn)
    return [name for name in event_files(spool_dir) if name.split("_")[1] == tag]


def test_summary_counts_files_bytes_the_oldest_and_each_dsn(port: Port, spool_dir: Path) -> None:
    dsn = f"http://public:s3cret@127.0.0.1:{port.number}/1"
    other = "http://other@127.0.0.1:9/7"
    ids = outage_files(dsn, spool_dir, 3)
    write_file(spool_dir, other, time.time() - 2 * 3600 - 5 * 60, "two hours old")
    before = event_files(spool_dir)
    (spool_dir / "corrupt").mkdir()
    (spool_dir / "corrupt" / "notes.txt").write_text("moved aside by a client")
    sizes = sum(os.path.getsize(spool_dir / name) for name in event_files(spool_dir))

    result, _ = run_cli("spool", str(spool_dir), "--dsn", dsn)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "s3cret" not in out
    lines = out.splitlines()
    assert f"spool directory: {spool_dir}" in lines
    assert "files: 4" in lines
    assert f"bytes: {sizes}" in lines
    assert re.search(r"^oldest: 2 h 5 min ago \(captured \d{4}-\d\d-\d\dT", out, re.M), out
    mine = [line for line in lines if line.strip().startswith(tag_of(dsn))]
    theirs = [line for line in lines if line.strip().startswith(tag_of(other))]
    assert len(mine) == 1 and len(theirs) == 1, out
    assert " 3 files " in mine[0] and mine[0].endswith(f"<- http://public@127.0.0.1:{port.number}/1")
    assert " 1 file " in theirs[0] and "oldest 2 h 5 min ago" in theirs[0] and "<-" not in theirs[0]
    assert "corrupt/: 1 file" in out
    assert "running" not in out  # nobody owns these files now
    # Looking changes nothing.
    assert event_files(spool_dir) == before
    assert set(ids) <= set(file_event_ids(spool_dir))


def test_summary_of_an_empty_directory_and_of_files_a_running_process_owns(
    port: Port, spool_dir: Path
) -> None:
    spool_dir.mkdir()
    result, _ = run_cli("spool", str(spool_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1:4] == ["files: 0", "bytes: 0", "oldest: -"]

    living = make_client(f"http://public@127.0.0.1:{port.number}/1", spool_dir=str(spool_dir))
    try:
        for n in range(2):
            living.captureMessage(f"held {n}")
        assert living.flush(10)
        wait_for(lambda: len(event_files(spool_dir)) == 2, 10, "2 files")
        result, _ = run_cli("spool", str(spool_dir))
    finally:
        living.close(1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "files: 2" in result.stdout.splitlines()
    assert "owned by running processes: 2 files" in result.stdout


def test_replay_sends_the_files_of_the_dsn_and_exits_0(
    port: Port, spool_dir: Path, servers: list[LoopbackServer]
) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    other = f"http://public@127.0.0.1:{port.number}/2"  # another project: not this replay's
    ids = outage_files(dsn, spool_dir, 5)
    other_name, _ = write_file(spool_dir, other, time.time() - 60)
    server = port.serve()
    servers.append(server)

    # A replay timeout longer than the test's own: the command must end when nothing is left.
    result, _ = run_cli("spool", str(spool_dir), "--replay", "--dsn", dsn, "--timeout", "600")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # nothing from the library
    assert "sent: 5, left: 0, lost: 0" in result.stdout.splitlines()
    assert event_ids([server]) == {event_id: 1 for event_id in ids}
    assert all(request.path == "/api/1/envelope/" for request in server.requests)
    assert files_of(spool_dir, dsn) == []
    assert event_files(spool_dir) == [other_name]


def test_replay_while_the_server_is_down_keeps_the_files_and_exits_1(port: Port, spool_dir: Path) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    outage_files(dsn, spool_dir, 3)
    before = event_files(spool_dir)

    # run_cli's own deadline fails the test if the command does not end at its --timeout.
    result, _ = run_cli("spool", str(spool_dir), "--replay", "--dsn", dsn, "--timeout", "1.5")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    assert "sent: 0, left: 3, lost: 0" in result.stdout.splitlines()
    assert "Connection refused" in result.stdout  # the reason, printed by the command
    assert event_files(spool_dir) == before
    # The command's client let go of the directory: nobody owns the files.
    assert list((spool_dir / ".owners").iterdir()) == []


def test_replay_counts_events_the_server_refuses_as_lost(
    port: Port, spool_dir: Path, servers: list[LoopbackServer]
) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    ids = outage_files(dsn, spool_dir, 3)
    server = port.serve()
    servers.append(server)
    server.default = Answer(status=400, headers={"X-Sentry-Error": "bad event"}, body=b"")

    result, _ = run_cli("spool", str(spool_dir), "--replay", "--dsn", dsn, "--timeout", "30")

    assert result.returncode == 0, result.stdout + result.stderr  # none is left
    assert "sent: 0, left: 0, lost: 3" in result.stdout.splitlines()
    assert "lost by reason: send_error:error x3" in result.stdout.splitlines()
    assert set(event_ids([server])) == set(ids)
    assert event_files(spool_dir) == []


def test_replay_takes_the_directory_given_not_the_dsns_spool_dir(
    port: Port, spool_dir: Path, tmp_path: Path, servers: list[LoopbackServer]
) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    ids = outage_files(dsn, spool_dir, 2)
    server = port.serve()
    servers.append(server)
    elsewhere = tmp_path / "elsewhere"

    result, _ = run_cli(
        "spool",
        str(spool_dir),
        "--replay",
        "--dsn",
        f"{dsn}?spool_dir={elsewhere}&timeout=5",
        "--timeout",
        "30",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(event_ids([server])) == set(ids)
    assert not elsewhere.exists()


def test_purge_deletes_files_but_not_those_of_a_running_process(
    port: Port, spool_dir: Path, refused_dsn: Any
) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    other = "http://other@127.0.0.1:9/7"
    outage_files(dsn, spool_dir, 3)
    crafted_other, _ = write_file(spool_dir, other, time.time() - 60)
    deleted_bytes = sum(os.path.getsize(spool_dir / name) for name in event_files(spool_dir))
    # A process still running on the directory (this one), with files of its own DSN.
    living = make_client(refused_dsn(project="2"), spool_dir=str(spool_dir))
    try:
        for n in range(2):
            living.captureMessage(f"held {n}")
        assert living.flush(10)
        wait_for(lambda: len(event_files(spool_dir)) == 6, 10, "6 files")
        held = files_of(spool_dir, refused_dsn(project="2"))
        assert len(held) == 2

        result, _ = run_cli("spool", str(spool_dir), "--purge")

        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stderr == ""
        assert f"deleted: 4 files ({deleted_bytes} bytes)" in result.stdout.splitlines()
        assert "kept: 2 files owned by running processes" in result.stdout.splitlines()
        assert event_files(spool_dir) == held
        assert crafted_other not in event_files(spool_dir)
    finally:
        living.close(0.5)


def test_purge_with_a_dsn_deletes_only_that_dsns_files(port: Port, spool_dir: Path) -> None:
    dsn = f"http://public@127.0.0.1:{port.number}/1"
    other = "http://other@127.0.0.1:9/7"
    outage_files(dsn, spool_dir, 2)
    kept, _ = write_file(spool_dir, other, time.time() - 60)

    result, _ = run_cli("spool", str(spool_dir), "--purge", "--dsn", dsn)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith("deleted: 2 files of http://public@127.0.0.1:")
    assert event_files(spool_dir) == [kept]


@pytest.mark.parametrize(
    "case",
    [
        "missing directory",
        "a file, not a directory",
        "invalid DSN",
        "invalid DSN option",
        "replay without a DSN",
        "bad timeout",
    ],
)
def test_bad_input_is_one_line_and_status_2(case: str, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    regular = tmp_path / "regular"
    regular.write_text("")
    args, expected = {
        "missing directory": ([str(tmp_path / "nowhere")], "no spool directory at"),
        "a file, not a directory": ([str(regular)], "is not a directory"),
        "invalid DSN": ([str(spool_dir), "--replay", "--dsn", "https://sentry.example.com/1"], "invalid"),
        "invalid DSN option": ([str(spool_dir), "--replay", "--dsn", f"{DEAD_DSN}?timeout=abc"], "timeout"),
        "replay without a DSN": ([str(spool_dir), "--replay"], "--replay needs --dsn"),
        "bad timeout": (
            [str(spool_dir), "--replay", "--dsn", "http://k@127.0.0.1:9/1", "--timeout", "0"],
            "",
        ),
    }[case]

    result, _ = run_cli("spool", *args)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    if case == "bad timeout":  # argparse's own: usage, then the error
        assert "--timeout: expected seconds" in result.stderr
        return
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("raven spool: error: ") and expected in result.stderr
    assert os.listdir(spool_dir) == []  # nothing created


def test_usage_text() -> None:
    result, _ = run_cli("spool", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: raven spool [-h] [--replay | --purge] [--dsn DSN]")
    for option in ("--replay", "--purge", "--dsn DSN", "--timeout SECONDS"):
        assert option in result.stdout
