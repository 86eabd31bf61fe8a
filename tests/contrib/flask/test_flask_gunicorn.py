"""Fork and exit under gunicorn: a Flask app with raven.contrib.flask whose client is built in the
gunicorn master (``--preload``) and then forked into 2 sync workers. Views that raise are hit over
real HTTP until both workers have served several; gunicorn is stopped with SIGTERM right after
the last response. Every event captured in the forked children reaches the loopback Sentry
server of this process, exactly once, including those still queued when SIGTERM arrived (the
server answers each request after 200 ms, so some are: asserted)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("flask")
pytest.importorskip("gunicorn")

from contrib_support import SRC_DIR, http_request, wait_for_events  # noqa: E402
from servers import Answer, LoopbackServer  # noqa: E402

APP = """
import os

import flask

from raven.contrib.flask import Sentry

app = flask.Flask("gunicorn_app")


@app.route("/boom/<int:number>")
def boom(number):
    raise ValueError(f"boom {number} in worker {os.getpid()}")


@app.after_request
def worker_header(response):
    response.headers["X-Worker"] = str(os.getpid())
    return response


sentry = Sentry(app, dsn=os.environ["APP_SENTRY_DSN"])
MASTER_PID = os.getpid()
"""


class Output:
    """Collects a stream's lines in a thread; ``wait_for(pattern)`` returns the first match."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[re.Match[str]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (re.search(pattern, line) for line in self.lines) if m]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    lines = "".join(self.lines)
                    raise AssertionError(f"no {count} x {pattern!r} in gunicorn's output:\n{lines}")
                self.cond.wait(left)


def test_preloaded_app_forked_into_two_workers(tmp_path: Path) -> None:
    (tmp_path / "gunicorn_app.py").write_text(APP, encoding="utf-8")
    with LoopbackServer() as sentry_server:
        sentry_server.default = Answer(delay=0.2)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([SRC_DIR, str(tmp_path)]),
            APP_SENTRY_DSN=sentry_server.dsn(),
        )
        command = [
            sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--worker-class", "sync",
            "--bind", "127.0.0.1:0", "--graceful-timeout", "20", "--chdir", str(tmp_path), "gunicorn_app:app",
        ]  # fmt: skip
        gunicorn = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            output = Output(gunicorn.stderr)
            port = int(output.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)")[0].group(1))
            booted = {int(m.group(1)) for m in output.wait_for(r"Booting worker with pid: (\d+)", count=2)}
            served: Counter[int] = Counter()
            event_ids: dict[str, int] = {}
            number = 0
            while min(served[pid] for pid in booted) < 5 and number < 400:
                number += 1
                reply = http_request(port, "GET", f"/boom/{number}")
                assert reply.status == 500
                worker = int(reply.header("X-Worker") or 0)
                served[worker] += 1
                event_ids[str(reply.header("X-Sentry-ID"))] = worker
            arrived_before_stop = len(sentry_server.events())
            gunicorn.send_signal(signal.SIGTERM)  # right after the last response
            assert gunicorn.wait(timeout=40) == 0
            output.wait_for(r"Shutting down: Master")
        finally:
            if gunicorn.poll() is None:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        assert set(served) == booted, (served, booted)  # both forked workers served views
        wait_for_events(sentry_server, len(event_ids), timeout=5)
        # Every worker is gone: once their connections are closed nothing more can arrive (a
        # duplicate included).
        sentry_server.wait_until(lambda _: sentry_server.open_connections == 0, 5, "connections closed")
        events = sentry_server.events()

    assert arrived_before_stop < len(event_ids)  # the exit had events to deliver
    received = Counter(event["event_id"] for event in events)
    print(f"{len(event_ids)} events, workers {dict(served)}, {arrived_before_stop} arrived before SIGTERM")
    assert set(received) == set(event_ids), f"lost: {sorted(set(event_ids) - set(received))}"
    assert max(received.values()) == 1  # each exactly once
    for event in events:
        message = event["exception"]["values"][-1]["value"]
        assert message.endswith(f"in worker {event_ids[event['event_id']]}")
        assert event["request"]["url"].startswith(f"http://127.0.0.1:{port}/boom/")
