"""The benchmark scenarios against a real Bugsink (stdlib only): a realistic end-to-end figure.

bench/run.py starts one Bugsink for the whole bench run, and only when a ``bugsink_*`` scenario is
selected, with the end-to-end suite's fixture (tests/e2e/bugsink_server.py: Bugsink 2.6.2 in its cached
venv, SQLite, 2 gunicorn sync workers, events digested inside the ingest request, quotas unlimited).
Every run gets its own Bugsink project, so counts are per run.

What is measured: events *stored* (the project's ``stored_event_count`` through Bugsink's API, read
once the run is over) and, for the delivery rate, the time the last ingest request of the run was
answered. That time comes from gunicorn's access log, which gets a line per request when its answer is
written; the driver tails the file every 50 ms and stamps each new line with its own monotonic clock
(the clients' clock too), so the end time is late by at most a poll interval and polling puts no load
on the server.

Run as a script, this file is the ``bugsink_floor`` child: keep-alive POSTs/s of a prepared envelope
from one Python thread to Bugsink's envelope endpoint (each with its own event id: Bugsink refuses a
repeated one), and from two threads (Bugsink runs two workers): the server's own ceiling next to the
clients' figures.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
E2E_DIR = os.path.join(os.path.dirname(BENCH_DIR), "tests", "e2e")
SCRIPT = os.path.abspath(__file__)
POLL_S = 0.05
SETTLE_S = 1.0  # after the client exited: how long the access log must stay quiet

#: One access-log line of a project's ingest request: (seen at, monotonic), status, seconds taken.
Line = Tuple[float, int, float]


def scenarios(quick: bool, make: Callable[..., Any]) -> List[Any]:
    """The ``bugsink_*`` scenarios, built with run.py's ``Scenario`` class (passed in as ``make``)."""

    def size(full: int, small: int) -> int:
        return small if quick else full

    bugsink_secondary = [
        ("delivered", "events stored by Bugsink"),
        ("bugsink_ms_per_request", "Bugsink ms per ingest request (gunicorn's own timing)"),
        ("rejected", "ingest requests not answered 200"),
    ]
    n_thr = size(1000, 200)
    n_exit = 1000
    return [
        make(
            "bugsink_floor",
            "Bugsink floor",
            "floor",
            "",
            "higher",
            server="bugsink",
            n=size(1000, 300),
            deadline=60,
            clients=("machine",),
            extra={"seconds": 1.0 if quick else 3.0},
        ),
        make(
            "bugsink_throughput",
            f"Bugsink: delivered events/s, threaded transport ({n_thr} messages)",
            "throughput",
            "events/s",
            "higher",
            server="bugsink",
            n=n_thr,
            deadline=180,
            # As in throughput_threaded: sentry-sdk's default queue of 100 would drop most of the burst.
            options={"sentry-sdk": {"transport_queue_size": n_thr}},
            secondary=[
                *bugsink_secondary,
                ("capture_s", "capture loop (s)"),
                ("process_cpu_us_per_event", "process CPU µs/event (capture + delivery)"),
            ],
        ),
        make(
            "bugsink_exit",
            f"Bugsink: events stored at exit, {n_exit} captured",
            "exit",
            "events",
            "higher",
            server="bugsink",
            n=n_exit,
            deadline=90,
            secondary=[*bugsink_secondary, ("exit_s", "time to exit after the last capture (s)")],
        ),
    ]


class AccessLog:
    """Tails gunicorn's access log; keeps each project's ingest requests, stamped when first seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.by_project: Dict[int, List[Line]] = {}

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        now = time.monotonic()
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for raw in lines:
            parts = raw.decode(errors="replace").split()  # "METHOD PATH STATUS SECONDS"
            if len(parts) != 4 or not parts[1].startswith("/api/"):
                continue
            pid = parts[1].split("/")[2]
            if pid.isdigit():
                self.by_project.setdefault(int(pid), []).append((now, int(parts[2]), float(parts[3])))

    def lines(self, project_id: int) -> List[Line]:
        self.poll()
        return self.by_project.get(project_id, [])


def request_figures(lines: List[Line]) -> Dict[str, Any]:
    statuses = Counter(str(status) for _, status, _ in lines)
    figures: Dict[str, Any] = {"requests": len(lines), "statuses": dict(statuses)}
    if lines:
        figures["bugsink_ms_per_request"] = 1000 * sum(s for _, _, s in lines) / len(lines)
        figures["bugsink_max_ms"] = 1000 * max(s for _, _, s in lines)
    figures["rejected"] = len(lines) - statuses.get("200", 0)
    return figures


class BugsinkBench:
    """One Bugsink for the bench run: a project per run, and the handlers of the ``bugsink_*`` kinds.

    The handlers have the signature of run.py's ``Runner._<kind>`` methods.
    """

    def __init__(self, stall: float, log: Callable[[str], None]) -> None:
        self.stall = stall
        self.log = log
        self.server: Any = None
        self.data_dir: Optional[str] = None
        self.access: Optional[AccessLog] = None
        self.projects: Dict[str, Any] = {}
        self.version = "?"

    def start(self) -> bool:
        """Install (cached) and start Bugsink; False, with a log line saying why, when it cannot."""
        if E2E_DIR not in sys.path:
            sys.path.insert(0, E2E_DIR)
        try:
            import bugsink_server

            self.version = bugsink_server.BUGSINK_VERSION
            self.log(f"starting Bugsink {self.version} (tests/e2e/bugsink_server.py) ...")
            install = bugsink_server.ensure_installed()
            self.data_dir = tempfile.mkdtemp(prefix="raven-ng-bench-bugsink-")
            self.server = bugsink_server.start_server(install, Path(self.data_dir), workers=2, timeout=120)
        except Exception as e:  # no Python >= 3.11, no network for the install, ...: skip, do not abort
            self.log(f"Bugsink cannot start, skipping the bugsink_* scenarios: {e}")
            self.stop()
            return False
        self.access = AccessLog(self.server.access_log_file)
        self.log(f"Bugsink {self.version} at {self.server.url} (data {self.data_dir})")
        return True

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def prepare(self, tag: str, spec: Dict[str, Any]) -> str:
        """Point ``spec`` at a new project for this run; return the script the child runs."""
        project = self.server.new_project(tag)
        self.projects[tag] = project
        spec["dsn"] = project.dsn
        if spec["kind"] != "floor":
            return os.path.join(BENCH_DIR, "client_runner.py")
        key = project.dsn.split("//", 1)[1].split("@", 1)[0]
        host, port = self.server.url.split("//", 1)[1].split(":")
        spec.update(host=host, port=int(port), path=f"/api/{project.project_id}/envelope/", key=key)
        return SCRIPT

    def _finish(self, tag: str, record: Dict[str, Any], metrics: Dict[str, Any]) -> Tuple[int, List[Line]]:
        """Stored count (API) and the run's ingest requests (access log), into ``record``."""
        project = self.projects.pop(tag)
        assert self.access is not None
        lines = self.access.lines(project.project_id)
        stored = project.count()
        figures = request_figures(lines)
        record["bugsink"] = dict(figures, stored=stored, project_id=project.project_id)
        metrics.update({k: v for k, v in figures.items() if isinstance(v, (int, float))}, delivered=stored)
        if stored and lines:
            metrics["requests_per_event"] = len(lines) / stored
        record["metrics"] = metrics
        return stored, lines

    def _floor(self, sc: Any, child: Any, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        res = child.wait_for("result", deadline)
        self.projects.pop(tag, None)
        if res is None:
            record["error"] = child.error() or "no result before the deadline"
            return
        record["metrics"] = {k: v for k, v in res.items() if isinstance(v, (int, float))}
        record["value"] = res["bugsink_posts_per_s"]

    def _throughput(self, sc: Any, child: Any, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        assert self.access is not None
        pid = self.projects[tag].project_id
        seen, changed = 0, time.monotonic()
        while time.monotonic() < deadline:
            child.pump()
            if "error" in child.seen or child.eof:
                break
            lines = self.access.lines(pid)
            now = time.monotonic()
            if len(lines) != seen:
                seen, changed = len(lines), now
            if sum(1 for line in lines if line[1] == 200) >= sc.n:
                break
            if "captured" in child.seen and now - changed > self.stall:
                break  # nothing new arrives: whatever was not delivered is lost
            time.sleep(POLL_S)
        captured = child.wait_for("captured", min(deadline, time.monotonic() + 60))
        child.tell("exit\n")
        res = child.wait_for("result", min(deadline, time.monotonic() + 15))
        metrics: Dict[str, Any] = {}
        if captured is not None:
            metrics["capture_s"] = captured["t_captured"] - captured["t_first"]
        if res is not None:
            metrics["process_cpu_us_per_event"] = res["process_cpu_us_per_event"]
            record["delivery_stats"] = res.get("delivery_stats")
        stored, lines = self._finish(tag, record, metrics)
        if captured is None:
            record["error"] = child.error() or "the client did not finish capturing"
            return
        if stored < sc.n:
            record["incomplete"] = f"{stored} of {sc.n} stored"
        if not stored and lines:
            record["error"] = "Bugsink refused every request: {}".format(record["bugsink"]["statuses"])
        answered = [t for t, status, _ in lines if status == 200]
        if stored and answered and answered[-1] > captured["t_first"]:
            record["value"] = stored / (answered[-1] - captured["t_first"])

    def _exit(self, sc: Any, child: Any, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        import subprocess

        assert self.access is not None
        captured = child.wait_for("captured", deadline)
        if captured is None:
            record["error"] = child.error() or "the client did not finish capturing"
            self._finish(tag, record, {})
            return
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            record["error"] = "did not exit before the deadline"
        exited = time.monotonic()
        # Requests sent before the exit are still being digested: wait until the log stays quiet.
        pid = self.projects[tag].project_id
        seen, changed, limit = -1, time.monotonic(), time.monotonic() + 20
        while time.monotonic() < limit:
            count = len(self.access.lines(pid))
            if count != seen:
                seen, changed = count, time.monotonic()
            elif time.monotonic() - changed > SETTLE_S:
                break
            time.sleep(POLL_S)
        metrics = {
            "exit_s": exited - captured["t_captured"],
            "capture_s": captured["t_captured"] - captured["t_first"],
        }
        stored, _ = self._finish(tag, record, metrics)
        if "error" not in record:
            record["value"] = stored


# -- the floor child -----------------------------------------------------------------------------------


def run_floor(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Keep-alive POSTs of prepared gzip envelopes (message events, fresh ids), one thread, then two.

    The event is a minimal message (no tags, release, contexts or breadcrumbs, each of which costs
    Bugsink database work), so that this is the server's ceiling, not one client's payload.
    """
    message = "Benchmark message: the widget pipeline reported an unexpected state"
    event: Dict[str, Any] = {
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "logentry": {"message": message, "formatted": message},
    }
    bodies = []
    for _ in range(int(spec["n"])):
        payload = dict(event, event_id=uuid.uuid4().hex)
        raw = json.dumps(payload).encode()
        envelope = b"\n".join(
            [
                json.dumps({"event_id": payload["event_id"]}).encode(),
                json.dumps({"type": "event", "length": len(raw)}).encode(),
                raw,
            ]
        )
        bodies.append(gzip.compress(envelope, 6))
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client=bench/1, sentry_key={spec['key']}",
    }
    limit = float(spec.get("seconds", 3.0))
    pending = iter(bodies)
    lock = threading.Lock()
    failures: List[str] = []

    def post(conn: http.client.HTTPConnection, body: bytes) -> None:
        conn.request("POST", spec["path"], body=body, headers=headers)
        resp = conn.getresponse()
        answer = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"bugsink floor: Bugsink answered {resp.status}: {answer[:200]!r}")

    def posts(counts: List[int], t0: float) -> None:
        # http.client reconnects by itself when the server closes the connection (gunicorn's sync
        # workers answer "Connection: close"), so this is the best one thread gets either way.
        conn = http.client.HTTPConnection(spec["host"], int(spec["port"]), timeout=30)
        while time.perf_counter() - t0 < limit:
            with lock:
                body = next(pending, None)
            if body is None:
                break
            try:
                post(conn, body)
            except Exception as e:  # reported by the main thread
                failures.append(repr(e))
                break
            counts.append(1)
        conn.close()

    def rate(threads: int) -> Tuple[float, int]:
        counts: List[int] = []
        t0 = time.perf_counter()
        workers = [threading.Thread(target=posts, args=(counts, t0)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return len(counts) / (time.perf_counter() - t0), len(counts)

    # Untimed: the project's first event creates its issue, the later ones only join it.
    warm_up = http.client.HTTPConnection(spec["host"], int(spec["port"]), timeout=30)
    post(warm_up, next(pending))
    warm_up.close()
    one, done = rate(1)
    # Bugsink runs 2 gunicorn workers: two threads in parallel show the server's own ceiling.
    two, _ = rate(2)
    if failures:
        raise SystemExit(failures[0])
    return {
        "phase": "result",
        "bugsink_posts_per_s": one,
        "bugsink_ms_per_post": 1000 / one,
        "bugsink_posts": done,
        "bugsink_posts_per_s_2_threads": two,
        "bugsink_body_bytes": len(bodies[0]),
    }


def main() -> None:
    import client_runner

    spec = json.loads(sys.argv[1])
    client_runner.start_watchdog(float(spec.get("deadline", 60)))
    client_runner.emit(phase="start", python=sys.version.split()[0], pid=os.getpid())
    client_runner.emit(**run_floor(spec))


if __name__ == "__main__":
    main()
