"""The spool when the disk is the problem: bounds (files, bytes, age), files that are not whole or
not the spool's, a directory that cannot be created or written, a full filesystem, clocks, fsync.

What is asserted is what a user sees: which events reached the server (and how many times), what
the directory holds, what the client counted as lost (``delivery_stats()``) and what the server
was told in client reports, how many lines the ``sentry.errors`` logger got, and that no capture
raised. Outages are a port that refuses connections until a recording server takes it over.

Filesystems that are full or read-only for root are small tmpfs mounts (skipped where this
machine does not let the tests mount). The spool stays off ``DEGRADED_FOR`` (30 s) after the
directory failed; the tests that watch it come back shorten that.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pytest
from crafted import envelope, event, fill, make_client, mounted_tmpfs, name_event_id, write_file
from servers import Answer, LoopbackServer
from spool_support import (
    Port,
    event_files,
    event_ids,
    file_event_ids,
    wait_for,
    wait_for_events,
    wait_for_files,
)

import raven._runtime.spool as spool_module
from raven._delivery import backoff

DAY = 24 * 3600.0


def spool_lines(caplog: pytest.LogCaptureFixture, *words: str) -> list[str]:
    """The ``sentry.errors`` lines that contain every one of ``words``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "sentry.errors" and all(word in record.getMessage() for word in words)
    ]


def thread_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return spool_lines(caplog, "spool's thread failed") + spool_lines(caplog, "could not take an event")


def wait_until_empty(spool_dir: Path, timeout: float = 15.0) -> None:
    wait_for(lambda: not event_files(spool_dir), timeout, lambda: f"no files; left {event_files(spool_dir)}")


def assert_once_each(server: LoopbackServer, expected: list[str]) -> None:
    counts = event_ids([server])
    assert counts == Counter(expected), f"arrived {dict(counts)}, expected each of {expected} once"


@pytest.fixture
def long_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failed connection the client pauses 2 s (not 0.5 s): a burst captured meanwhile goes
    to disk only, whatever the machine's load, and no file is being retried while the bounds act."""
    monkeypatch.setattr(backoff, "FIRST_DELAY", 2.0)


def burst_in_outage(client: Any, count: int, **capture: Any) -> list[str]:
    """Capture one event and wait until its send failed (the client now knows the server is away),
    then ``count - 1`` more: the ids, oldest first."""
    first = client.captureMessage("outage event 0", **capture)
    wait_for(client.state.did_fail, 10, "a failed send")
    assert client.flush(10)
    ids = [first] + [client.captureMessage(f"outage event {n}", **capture) for n in range(1, count)]
    assert client.flush(10)
    return ids


# -- bounds


@pytest.mark.parametrize("bound", ["spool_max_files", "spool_max_bytes"])
def test_bound_keeps_the_newest_events_and_counts_the_rest_as_cache_overflow(
    bound: str,
    port: Port,
    spool_dir: Path,
    servers: list[LoopbackServer],
    long_pause: None,
    error_log: pytest.LogCaptureFixture,
) -> None:
    captured = 7
    if bound == "spool_max_files":
        client = make_client(port.dsn(spool_dir, "spool_max_files=3"))
        capture: dict[str, Any] = {}
    else:  # events of about 20 KB: three fit in the smallest byte bound, 64 KiB
        client = make_client(port.dsn(spool_dir, "spool_max_bytes=65536"), string_max_length=30000)
        capture = {"extra": {"padding": "x" * 20000}}
    try:
        ids = burst_in_outage(client, captured, **capture)

        on_disk = event_files(spool_dir)
        sizes = [os.path.getsize(spool_dir / name) for name in on_disk]
        if bound == "spool_max_files":
            kept = 3
        else:
            assert min(sizes) > 20000
            kept = 65536 // max(sizes)
            assert sum(sizes) <= 65536
        assert kept == 3
        assert [name_event_id(name) for name in on_disk] == ids[-kept:]  # the newest, by name order
        lost = {"cache_overflow:error": captured - kept}
        assert client.delivery_stats()["lost"] == lost
        assert len(spool_lines(error_log, "the spool is full")) == 1

        server = port.serve()
        servers.append(server)
        wait_for_events(server, set(ids[-kept:]), timeout=20)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert_once_each(server, ids[-kept:])
    assert server.discarded() == lost  # the client report told the server
    stats = client.delivery_stats()
    assert (stats["sent"], stats["lost"]) == (kept, lost)
    assert thread_failures(error_log) == []


def test_files_past_max_age_are_dropped_at_start_and_reported(
    spool_dir: Path, http_server: LoopbackServer
) -> None:
    dsn = http_server.dsn()
    old_name, old_id = write_file(spool_dir, dsn, time.time() - 3 * DAY, "three days old")
    young_name, young_id = write_file(spool_dir, dsn, time.time() - 60, "a minute old")

    client = make_client(dsn, spool_dir=str(spool_dir), spool_max_age=2 * DAY)
    try:
        wait_for_events(http_server, {young_id}, timeout=15)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert_once_each(http_server, [young_id])
    assert client.delivery_stats()["lost"] == {"cache_overflow:error": 1}
    assert http_server.discarded() == {"cache_overflow:error": 1}
    assert not (spool_dir / "corrupt" / old_name).exists()  # dropped, not set aside


def test_age_is_read_from_the_capture_time_in_the_name_not_the_mtime(
    spool_dir: Path, http_server: LoopbackServer
) -> None:
    dsn = http_server.dsn()
    now = time.time()
    # Copied or restored with an ancient mtime, but captured a minute ago: kept and sent.
    young_name, young_id = write_file(spool_dir, dsn, now - 60, "young, old mtime")
    os.utime(spool_dir / young_name, (now - 400 * DAY, now - 400 * DAY))
    # Touched just now, but captured two hours ago: past the one-hour bound.
    old_name, old_id = write_file(spool_dir, dsn, now - 2 * 3600, "old, fresh mtime")
    os.utime(spool_dir / old_name, (now, now))
    # Written by a process whose clock was a day ahead (it went back since): younger, never dropped.
    ahead_name, ahead_id = write_file(spool_dir, dsn, now + DAY, "from a clock a day ahead")

    client = make_client(dsn, spool_dir=str(spool_dir), spool_max_age=3600)
    try:
        wait_for_events(http_server, {young_id, ahead_id}, timeout=15)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert_once_each(http_server, [young_id, ahead_id])
    assert client.delivery_stats()["lost"] == {"cache_overflow:error": 1}


def test_files_that_pass_max_age_during_an_outage_are_dropped_not_sent(
    port: Port, spool_dir: Path, servers: list[LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "RESCAN_INTERVAL", 0.2)  # a look every 0.2 s, not 30 s
    client = make_client(port.dsn(spool_dir, "spool_max_age=0.5"))
    try:
        ids = burst_in_outage(client, 2)
        wait_for_files(spool_dir, 2)
        captured = time.time()
        # The outage outlasts the bound three times over (and a dozen looks).
        wait_for(lambda: time.time() > captured + 1.5, 5, "the outage to outlast spool_max_age")
        server = port.serve()
        servers.append(server)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert len(ids) == 2
    assert event_ids([server]) == Counter()  # too old: not sent
    assert client.delivery_stats()["lost"] == {"cache_overflow:error": 2}


# -- files that are not whole, or not the spool's


def test_corrupt_truncated_and_foreign_files_are_moved_aside_and_the_good_ones_delivered(
    spool_dir: Path, http_server: LoopbackServer, error_log: pytest.LogCaptureFixture
) -> None:
    dsn = http_server.dsn()
    now = time.time()
    good = [write_file(spool_dir, dsn, now - 50 + n, f"good {n}")[1] for n in range(2)]
    whole = envelope(event("truncated"))
    corrupt = [
        write_file(spool_dir, dsn, now - 40, data=b"\x00\x01 not an envelope at all")[0],
        write_file(spool_dir, dsn, now - 30, data=whole[: len(whole) - 25])[0],  # cut short
        write_file(spool_dir, dsn, now - 20, data=envelope(event("wrong id")))[0],  # not its name's id
    ]
    (spool_dir / "notes.txt").write_text("a human's notes")
    (spool_dir / "backup.envelope").write_bytes(whole)  # an envelope, but not a spool file's name
    foreign = ["notes.txt", "backup.envelope"]
    # Left alone: another DSN's file, hidden files, directories.
    other_name, _ = write_file(spool_dir, "http://other@127.0.0.1:9/7", now - 45)
    (spool_dir / ".keep").write_text("")
    (spool_dir / "archive").mkdir()

    client = make_client(dsn, spool_dir=str(spool_dir))
    try:
        wait_for_events(http_server, set(good), timeout=15)
        wait_for(
            lambda: (
                sorted(os.listdir(spool_dir / "corrupt")) == sorted(corrupt + foreign)
                if (spool_dir / "corrupt").is_dir()
                else False
            ),
            10,
            lambda: f"corrupt/ to hold {len(corrupt + foreign)} files",
        )
        later = client.captureMessage("after the clean-up")  # the client goes on as usual
        wait_for_events(http_server, {later}, timeout=10)
    finally:
        client.close(1)
    assert_once_each(http_server, [*good, later])
    assert event_files(spool_dir) == [other_name]
    assert {".keep", "archive"} <= set(os.listdir(spool_dir))
    assert (spool_dir / "corrupt" / corrupt[1]).read_bytes() == whole[: len(whole) - 25]  # kept as it was
    assert len(spool_lines(error_log, "is not whole", "moved to corrupt/")) == 1
    assert len(spool_lines(error_log, "is not a spool file", "moved to corrupt/")) == 1
    assert client.delivery_stats()["lost"] == {}
    assert thread_failures(error_log) == []


# -- a directory that cannot be created or written


@contextmanager
def read_only_dir(path: Path) -> Iterator[Callable[[], None]]:
    """A writable directory at ``path`` and a function that makes it read-only: ``chmod 0o500``, or
    for root (whom modes do not stop) a tmpfs remounted read-only. (Linux refuses to remount a
    filesystem read-only while a file on it is open for writing, as the spool's owner lock is: for
    root, ``.owners`` is a small tmpfs of its own.)"""
    if os.geteuid() != 0:
        path.mkdir(parents=True)

        def chmod() -> None:
            for directory in (path, path / ".owners"):
                if directory.exists():
                    directory.chmod(0o500)

        try:
            yield chmod
        finally:
            for directory in (path, path / ".owners"):
                if directory.exists():
                    directory.chmod(0o700)
        return
    with mounted_tmpfs(path, "size=1m"), mounted_tmpfs(path / ".owners", "size=64k"):

        def remount() -> None:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, timeout=10)

        yield remount


@pytest.mark.parametrize("when", ["from the start", "while running"])
def test_read_only_directory_events_are_delivered_from_memory(
    when: str,
    tmp_path: Path,
    http_server: LoopbackServer,
    error_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Answers come after 0.2 s and files are due after 0.05 s: each event's file is due before
    # its send settles.
    monkeypatch.setattr(spool_module, "WRITE_DELAY", 0.05)
    http_server.default = Answer(delay=0.2)
    spool_dir = tmp_path / "ro"
    with read_only_dir(spool_dir) as make_read_only:
        if when == "from the start":
            make_read_only()
        client = make_client(http_server.dsn(), spool_dir=str(spool_dir))
        try:
            if when == "while running":
                assert client.flush(5)
                make_read_only()
            ids = [client.captureMessage(f"read-only {n}") for n in range(3)]
            wait_for_events(http_server, set(ids), timeout=15)
            assert client.flush(5)
        finally:
            client.close(1)
        assert event_files(spool_dir) == []
    assert_once_each(http_server, ids)
    stats = client.delivery_stats()
    assert (stats["sent"], stats["lost"]) == (3, {})
    lines = spool_lines(error_log, str(spool_dir))
    assert len(lines) == 1, lines
    assert "in memory only" in lines[0]
    assert thread_failures(error_log) == []


def test_directory_that_cannot_be_created_events_are_delivered_from_memory(
    tmp_path: Path, http_server: LoopbackServer, error_log: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file")
    spool_dir = blocker / "spool"

    client = make_client(http_server.dsn(), spool_dir=str(spool_dir))
    try:
        ids = [client.captureMessage(f"no directory {n}") for n in range(3)]
        wait_for_events(http_server, set(ids), timeout=15)
    finally:
        client.close(1)
    assert_once_each(http_server, ids)
    assert client.delivery_stats()["lost"] == {}
    lines = spool_lines(error_log, "cannot use the spool directory", str(spool_dir))
    assert len(lines) == 1 and "Not a directory" in lines[0], lines
    assert blocker.read_text() == "a regular file"


def test_directory_that_can_be_used_later_is_taken_up_after_the_pause(
    tmp_path: Path, port: Port, servers: list[LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "DEGRADED_FOR", 0.3)
    blocker = tmp_path / "mount-point"
    blocker.write_text("not mounted yet")
    spool_dir = blocker / "spool"
    client = make_client(port.dsn(spool_dir))
    try:
        blocker.unlink()  # the volume arrives
        spool_dir.mkdir(parents=True)
        # Once the pause is over, an event captured in the outage is written to the directory (the
        # ones before it wait in memory).
        ids: list[str] = []
        wait_for(lambda: _spooled(client, spool_dir, ids), 10, "an event written to the directory")
        server = port.serve()
        servers.append(server)
        wait_for_events(server, set(ids), timeout=30)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert_once_each(server, ids)
    assert client.delivery_stats()["lost"] == {}


def _spooled(client: Any, spool_dir: Path, ids: list[str]) -> bool:
    """Capture an event (its id appended to ``ids``); True once its file is in ``spool_dir`` (within
    0.5 s: the spool writes within milliseconds when it is on; when it is off, nothing comes)."""
    ids.append(client.captureMessage(f"is the spool there? {len(ids)}"))
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        if ids[-1] in file_event_ids(spool_dir):
            return True
        time.sleep(0.02)
    return False


# -- a full filesystem


def test_full_disk_events_are_delivered_from_memory_and_the_spool_resumes_once_space_is_freed(
    tmp_path: Path,
    port: Port,
    servers: list[LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
    error_log: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(spool_module, "DEGRADED_FOR", 1.0)
    monkeypatch.setattr(spool_module, "WRITE_DELAY", 0.05)
    with mounted_tmpfs(tmp_path / "small", "size=256k") as small:
        spool_dir = small / "spool"
        server = port.serve()
        servers.append(server)
        server.default = Answer(delay=0.2)  # each event's file is due before its send settles
        client = make_client(port.dsn(spool_dir))
        try:
            assert client.flush(5)
            filler = fill(small)

            full = [client.captureMessage(f"disk full {n}") for n in range(3)]
            wait_for_events(server, set(full), timeout=15)
            wait_for(lambda: client.delivery_stats()["sent"] == 3, 10, "3 answers")
            assert event_files(spool_dir) == []
            lines = spool_lines(error_log, "cannot write to the spool directory")
            assert len(lines) == 1 and "No space left on device" in lines[0], lines

            # Space is freed, and the server goes away: once the pause is over, events are on disk.
            filler.unlink()
            server.stop()
            later: list[str] = []
            wait_for(lambda: _spooled(client, spool_dir, later), 10, "an event written to the freed disk")
            back = LoopbackServer(port=port.number).start()
            servers.append(back)
            wait_for_events(back, set(later), timeout=30)
            wait_until_empty(spool_dir)
        finally:
            client.close(1)
    assert event_ids([server, back]) == Counter(full + later)
    assert client.delivery_stats()["lost"] == {}
    assert len(spool_lines(error_log, "cannot write to the spool directory")) == 1
    assert thread_failures(error_log) == []


@pytest.mark.parametrize("first", ["the write fails", "the connection is refused"])
def test_full_disk_and_a_refused_connection_the_event_is_retried_from_memory(
    first: str,
    tmp_path: Path,
    port: Port,
    servers: list[LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
    error_log: pytest.LogCaptureFixture,
) -> None:
    from raven._runtime import resolve

    client: Any = None
    if first == "the write fails":
        monkeypatch.setattr(spool_module, "WRITE_DELAY", 0.01)
        connect = resolve.create_connection

        def after_the_failed_write(*args: Any, **kwargs: Any) -> Any:
            # The spool turns itself off when a write fails: only then is the connection refused.
            wait_for(lambda: client._spool._off_until > 0, 10, "the failed write")
            return connect(*args, **kwargs)

        monkeypatch.setattr(resolve, "create_connection", after_the_failed_write)
    # Else the refusal comes first: the event's file is not due before WRITE_DELAY (1 s), and the
    # refusal sends it to the disk at once, where writing it fails.
    with mounted_tmpfs(tmp_path / "small", "size=256k") as small:
        client = make_client(port.dsn(small / "spool"))
        try:
            assert client.flush(5)
            fill(small)
            event_id = client.captureMessage("disk full, server away")
            wait_for(client.state.did_fail, 10, "a failed send")
            # As without a spool: the event waits in memory for the server (tried again after the
            # pause), it is neither lost nor said to be in the spool.
            assert not client.flush(0.5)
            assert client.delivery_stats()["lost"] == {}
            kept = spool_lines(error_log, "stays in the spool")
            assert len(kept) == (0 if first == "the write fails" else 1), kept
            server = port.serve()
            servers.append(server)
            wait_for_events(server, {event_id}, timeout=20)
        finally:
            client.close(1)


# -- fsync


def test_fsync_option_syncs_each_file_and_the_events_are_delivered(
    port: Port,
    spool_dir: Path,
    tmp_path: Path,
    servers: list[LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)

    plain = make_client(port.dsn(tmp_path / "plain"))
    try:
        burst_in_outage(plain, 3)
        wait_for_files(tmp_path / "plain", 3)
    finally:
        plain.close(0.5)
    assert synced == []  # off by default

    client = make_client(port.dsn(spool_dir, "spool_fsync=1"))
    try:
        ids = burst_in_outage(client, 3)
        assert sorted(file_event_ids(spool_dir)) == sorted(ids)
        assert len(synced) >= 2 * 3  # each file, and the directory after each rename
        server = port.serve()
        servers.append(server)
        wait_for_events(server, set(ids), timeout=20)
        wait_until_empty(spool_dir)
    finally:
        client.close(1)
    assert_once_each(server, ids)
    assert client.delivery_stats()["lost"] == {}
