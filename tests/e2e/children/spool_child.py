"""One process of tests/e2e/test_bugsink_spool.py: a client with a durable spool; one JSON line out.

argv[1] is a JSON object: ``scenario``, ``dsn`` (with ``?spool_dir=``), ``spool_dir``.

* ``capture``: capture e2e_events.py's message and exception events and ``more`` plain messages,
  wait until a send failed (the server cannot be reached) and every event has its file, close;
  prints ``ids`` (``message``, ``exception``, ``more``), ``stats`` and ``files_left``.
* ``deliver``: capture nothing; wait until the spool directory holds no event file, close; prints
  ``stats`` and ``files_left``.

Every wait has a deadline (a TimeoutError, exit status 1); a watchdog (``SIGALRM``) ends a child
that overruns anyway.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
signal.alarm(int(PARAMS.get("watchdog", 90)))

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/e2e

from e2e_events import CLIENT_OPTIONS, capture_exception_event, capture_message_event  # noqa: E402

import raven  # noqa: E402


def event_files() -> int:
    try:
        return sum(1 for name in os.listdir(PARAMS["spool_dir"]) if name.endswith(".envelope"))
    except FileNotFoundError:
        return 0


def until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting until {what} ({event_files()} files)")
        time.sleep(0.02)


def main() -> None:
    client = raven.Client(
        PARAMS["dsn"], install_sys_hook=False, install_logging_hook=False, hook_libraries=(), **CLIENT_OPTIONS
    )
    result: dict[str, Any] = {"pid": os.getpid()}
    if PARAMS["scenario"] == "capture":
        ids = {"message": capture_message_event(client), "exception": capture_exception_event(client)}
        ids["more"] = [
            client.captureMessage(f"spooled while the server is down {n}") for n in range(PARAMS["more"])
        ]
        until(client.state.did_fail, 20, "a send failed")
        until(lambda: event_files() == 2 + len(ids["more"]), 20, "every event has its file")
        result["ids"] = ids
    else:
        until(lambda: event_files() == 0, 60, "the directory is empty")
    client.close(PARAMS.get("close", 5.0))
    stats = client.delivery_stats()
    result["stats"] = {"sent": stats.get("sent", 0), "lost": dict(stats.get("lost") or {})}
    result["files_left"] = event_files()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
