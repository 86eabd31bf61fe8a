"""A client with a spool, forked (gunicorn --preload, Celery prefork): each forked child writes as
an owner of its own, and when the children are gone their files are sent by the parent, once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from servers import LoopbackServer
from spool_support import Port, _env, assert_exactly_once, event_ids, wait_for

CHILD = Path(__file__).parent / "children" / "spool_fork.py"


def test_forked_children_files_are_taken_over_by_the_parent(
    port: Port, spool_dir: Path, servers: list[LoopbackServer]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), port.dsn(spool_dir), str(spool_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        first = proc.stdout.readline()
        assert first, proc.stderr.read() if proc.stderr else ""
        ids = json.loads(first)["ids"]
        assert len(ids) == 50 and len(set(ids)) == 50
        owners = {name.split("_")[2] for name in (p.name for p in spool_dir.glob("*.envelope"))}
        assert len(owners) == 3  # the parent and each child wrote as an owner of its own
        server = port.serve()
        servers.append(server)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    wait_for(lambda: set(ids) <= set(event_ids([server])), 10, "every event at the server")
    assert_exactly_once(event_ids([server]), set(ids))
    assert json.loads(out.strip().splitlines()[-1])["stats"]["lost"] == {}
    assert not list(spool_dir.glob("*.envelope"))
