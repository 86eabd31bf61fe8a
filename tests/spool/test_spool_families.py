"""Every transport family with the spool on survives a restart of the server: the server is up
(some events, delivered), goes away (events captured meanwhile stay on disk), and comes back on
the same port: every event arrives exactly once, nothing is counted lost, the directory ends empty.

Each family runs in a child process of its own (``children/spool_process.py``, scenario
``restart``), set up its way first: plain threads for the threaded and the synchronous transports,
``patch_all()`` for gevent, ``monkey_patch()`` for eventlet, a running loop for asyncio and
Tornado. The parent runs the servers and tells the child when each phase may begin (files in
``ctl``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from servers import LoopbackServer
from spool_support import (
    Children,
    Port,
    assert_exactly_once,
    event_files,
    event_ids,
    file_event_ids,
    wait_for,
    wait_for_events,
)

BEFORE = 20
DURING = 50


@dataclass(frozen=True)
class Family:
    world: str  # spool_process.py's WORLD
    transport_class: str  # what the client ends up with
    transport: Optional[str] = None  # spool_process.py's TRANSPORTS key; None: by the DSN's scheme
    scheme: str = "http"
    library: Optional[str] = None


FAMILIES = {
    "threaded": Family("threads", "ThreadedHTTPTransport", transport="threaded"),
    "sync": Family("threads", "HTTPTransport", transport="sync"),
    "gevent": Family("gevent", "GeventedHTTPTransport", scheme="gevent+http", library="gevent"),
    "eventlet": Family("eventlet", "EventletHTTPTransport", scheme="eventlet+http", library="eventlet"),
    "asyncio": Family("asyncio", "AsyncioHTTPTransport", scheme="asyncio+http", library="aiohttp"),
    "tornado": Family("tornado", "TornadoHTTPTransport", scheme="tornado+http", library="tornado"),
}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", list(FAMILIES))
def test_server_restart_every_event_arrives_once(
    name: str, port: Port, spool_dir: Path, tmp_path: Path, servers: list[LoopbackServer], children: Children
) -> None:
    family = FAMILIES[name]
    if family.library:
        pytest.importorskip(family.library)
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    port.release()
    first = LoopbackServer(port=port.number).start()
    servers.append(first)
    child = children.start(
        "restart",
        world=family.world,
        transport=family.transport,
        dsn=port.dsn(spool_dir, scheme=family.scheme),
        spool_dir=str(spool_dir),
        ctl=str(ctl),
        before=BEFORE,
        during=DURING,
    )

    # Up: the first events are delivered (and their files deleted).
    wait_for((ctl / "before.json").exists, 30, lambda: f"the first events\n{child.output()}")
    before = read_json(ctl / "before.json")
    wait_for_events(first, set(before), timeout=10)
    first.stop()

    # Down: the events captured now stay on disk.
    (ctl / "go2").touch()
    wait_for((ctl / "during.json").exists, 30, lambda: f"the outage events\n{child.output()}")
    during = read_json(ctl / "during.json")
    wait_for(
        lambda: set(file_event_ids(spool_dir)) == set(during),
        10,
        lambda: f"the files of the {DURING} outage events; {len(event_files(spool_dir))} files",
    )
    assert file_event_ids(spool_dir) == Counter(during)

    # Up again, on the same port: the child waits until the directory is empty, then closes.
    second = LoopbackServer(port=port.number).start()
    servers.append(second)
    (ctl / "go3").touch()
    result = child.result(60)

    assert result["transport"] == family.transport_class
    assert result["flushed"] is True
    assert result["stats_during"]["lost"] == {}  # kept, not lost
    assert set(event_ids([first])) == set(before)  # nothing of the outage reached the first server
    assert_exactly_once(event_ids([first, second]), set(before) | set(during))
    assert result["stats"] == {"sent": BEFORE + DURING, "lost": {}}
    assert result["files_left"] == 0
    assert event_files(spool_dir) == []
