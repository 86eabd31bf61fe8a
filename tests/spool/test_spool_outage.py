"""An outage, then the server back: the spool delivers every event captured meanwhile exactly once,
in the process that captured them or, after a clean close, in the next process on the directory.

The server's port refuses connections during the outage (bound, not listening); then a recording
server takes that very port. What is asserted: which event ids arrived and how many times each,
what the files on disk say, what the client counted as lost (nothing), and that the directory ends
empty.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from servers import Answer, LoopbackServer, RecordedRequest
from spool_support import (
    Port,
    assert_exactly_once,
    event_files,
    event_ids,
    file_event_ids,
    run,
    wait_for,
    wait_for_events,
    wait_for_files,
)


def make_client(dsn: str, **options: Any) -> Any:
    import raven

    return raven.Client(dsn, install_sys_hook=False, install_logging_hook=False, hook_libraries=(), **options)


def test_outage_then_recovery_in_one_process_delivers_every_event_once(
    port: Port, spool_dir: Path, servers: list[LoopbackServer]
) -> None:
    count = 1000
    client = make_client(f"http://public@127.0.0.1:{port.number}/1", spool_dir=str(spool_dir))
    try:
        ids = [client.captureMessage(f"outage event {n}") for n in range(count)]
        assert len(set(ids)) == count

        wait_for(client.state.did_fail, 10, "a failed send")
        wait_for_files(spool_dir, count)
        assert file_event_ids(spool_dir) == Counter(ids)  # one whole file per event
        assert client.delivery_stats()["lost"] == {}  # kept, not lost
        assert client.delivery_stats()["sent"] == 0

        server = port.serve()
        servers.append(server)
        wait_for_events(server, set(ids), timeout=40)
        wait_for(
            lambda: not event_files(spool_dir),
            10,
            lambda: f"an empty directory: {event_files(spool_dir)[:3]}",
        )
        assert client.flush(5)
        stats = client.delivery_stats()
    finally:
        client.close(2)
    assert_exactly_once(event_ids([server]), set(ids))  # also after the close
    assert stats["lost"] == {}
    assert stats["sent"] == count
    assert event_files(spool_dir) == []


def test_outage_clean_close_then_a_new_process_delivers_every_event_once(
    port: Port, spool_dir: Path, servers: list[LoopbackServer]
) -> None:
    # More events than the spool's thread lists at once (CANDIDATES, 512): the new process finds
    # the rest when it looks again.
    count = 600
    dsn = port.dsn(spool_dir)
    client = make_client(dsn)
    ids = [client.captureMessage(f"outage event {n}") for n in range(count)]
    wait_for(client.state.did_fail, 10, "a failed send")
    client.close(0.5)
    assert client.delivery_stats()["lost"] == {}
    assert client.delivery_stats()["sent"] == 0
    # Every event is on disk when close returns, and the process let go of the directory.
    assert file_event_ids(spool_dir) == Counter(ids)
    assert list((spool_dir / ".owners").iterdir()) == []

    server = port.serve()
    servers.append(server)
    result = run("deliver", dsn=dsn, spool_dir=str(spool_dir), timeout=60)

    assert_exactly_once(event_ids([server]), set(ids))
    assert result["stats"] == {"sent": count, "lost": {}}
    assert result["files_left"] == 0
    assert event_files(spool_dir) == []


def test_files_beyond_the_listed_candidates_wait_only_a_tenth_of_the_rescan_interval(
    port: Port, spool_dir: Path, servers: list[LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real 512 candidates and 30 s, made small: 30 files, 10 listed at a time, looked for
    # again 1 s after a pass that left some out (not after the whole 10 s interval).
    import raven._runtime.spool

    monkeypatch.setattr(raven._runtime.spool, "CANDIDATES", 10)
    monkeypatch.setattr(raven._runtime.spool, "RESCAN_INTERVAL", 10.0)
    dsn = port.dsn(spool_dir)
    writer = make_client(dsn)
    ids = [writer.captureMessage(f"backlog event {n}") for n in range(30)]
    writer.close(0.2)
    assert file_event_ids(spool_dir) == Counter(ids)

    server = port.serve()
    servers.append(server)
    reader = make_client(dsn)  # a new owner: the writer's files are anyone's
    try:
        # Three passes of 10, about 1 s apart; 10 s apart would miss the deadline.
        wait_for_events(server, set(ids), timeout=6)
    finally:
        reader.close(1)
    assert_exactly_once(event_ids([server]), set(ids))


# -- an event settled while the spool's thread is busy is sent once
#
# The spool's thread takes its pending jobs (delete / let go of a file) at the top of a round, then
# writes, handles those jobs, scans when a scan is due, and feeds. An event the transport settles
# after the top of a round has its job wait for the next round; a scan meanwhile must not list its
# file (it would be handed over again: sent twice, or listed twice). Below, the thread is held
# inside a write while the transport settles an event whose file exists, for longer than the
# (shortened) scan interval, so that a scan comes right after the writes.

SCAN_EVERY = 0.2


@pytest.fixture
def thread_held_in_a_write(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``(writing, go_on)``: the spool's thread sets ``writing`` when it starts writing the file
    of the event "second event", and waits for ``go_on`` before it writes it."""
    import raven._runtime.spool
    import raven._runtime.spool_files

    monkeypatch.setattr(raven._runtime.spool, "RESCAN_INTERVAL", SCAN_EVERY)
    monkeypatch.setattr(raven._runtime.spool, "WRITE_DELAY", 0.05)  # files well before a timeout
    writing, go_on = threading.Event(), threading.Event()
    write = raven._runtime.spool_files.SpoolDir.write

    def held_write(self: Any, name: Any, data: bytes) -> None:
        if b"second event" in data:
            writing.set()
            go_on.wait(10)
        write(self, name, data)

    monkeypatch.setattr(raven._runtime.spool_files.SpoolDir, "write", held_write)
    yield writing, go_on
    go_on.set()


def first_request_waits_for(server: LoopbackServer, event: threading.Event, answer: Answer) -> None:
    """The server answers its first request with ``answer`` once ``event`` is set; then 200."""

    def responder(request: RecordedRequest) -> Optional[Answer]:
        if len(server.requests) == 1:
            event.wait(10)
            return answer
        return None

    server.responder = responder


def test_an_event_sent_while_the_spool_thread_is_busy_is_not_sent_again(
    spool_dir: Path,
    servers: list[LoopbackServer],
    thread_held_in_a_write: tuple[threading.Event, threading.Event],
) -> None:
    writing, go_on = thread_held_in_a_write
    server = LoopbackServer()
    first_request_waits_for(server, writing, Answer())
    servers.append(server.start())
    client = make_client(server.dsn(query=f"spool_dir={spool_dir}"))
    try:
        first = client.captureMessage("first event")
        wait_for_files(spool_dir, 1)  # on disk before the server answers
        second = client.captureMessage("second event")
        assert writing.wait(10)
        held_at = time.monotonic()
        # Both sent (the second before its file was written) while the thread is held, and held
        # past a rescan interval: not a wait for something to happen, but so that the thread's
        # first round after the hold also rescans the directory, where the sent file must not be
        # taken for one to replay.
        wait_for(
            lambda: client.delivery_stats()["sent"] >= 2 and time.monotonic() >= held_at + SCAN_EVERY,
            10,
            "both events sent",
        )
        go_on.set()
        wait_for(lambda: not event_files(spool_dir), 10, "an empty directory")
        assert client.flush(5)
    finally:
        client.close(1)
    assert event_ids([server]) == Counter({first: 1, second: 1})
    assert client.delivery_stats()["sent"] == 2


def test_an_event_kept_while_the_spool_thread_is_busy_is_sent_once_later(
    spool_dir: Path,
    servers: list[LoopbackServer],
    thread_held_in_a_write: tuple[threading.Event, threading.Event],
) -> None:
    writing, go_on = thread_held_in_a_write
    server = LoopbackServer()
    # The first send gets no answer (the connection is reset): the event is kept in the spool.
    first_request_waits_for(server, writing, Answer(action="reset"))
    servers.append(server.start())
    client = make_client(server.dsn(query=f"spool_dir={spool_dir}"))
    try:
        first = client.captureMessage("first event")
        wait_for_files(spool_dir, 1)
        second = client.captureMessage("second event")
        assert writing.wait(10)
        held_at = time.monotonic()
        # Held past a rescan interval too, as in the test above.
        wait_for(
            lambda: client.state.did_fail() and time.monotonic() >= held_at + SCAN_EVERY, 10, "a failed send"
        )
        go_on.set()
        wait_for(lambda: not event_files(spool_dir), 10, "an empty directory")
        assert client.flush(5)
    finally:
        client.close(1)
    assert client.delivery_stats()["lost"] == {}
    answered = Counter(event["event_id"] for request in server.requests[1:] for event in request.events())
    assert answered == Counter({first: 1, second: 1})
    assert client.delivery_stats()["sent"] == 2
