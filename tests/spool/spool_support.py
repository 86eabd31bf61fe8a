"""What the tests/spool modules share: child processes on one spool directory, the directory's
files, and ports that refuse connections until a server takes them over.

Children run ``children/spool_process.py`` with ``tests/loops/harness.py``'s conventions (JSON
parameters in argv[1], one JSON line out, ``src`` on ``PYTHONPATH``): :func:`run_child` there for a
child that runs to its end, :class:`Child` here for one that runs beside others or is killed.
Every wait has a deadline; nothing sleeps a fixed time to let something happen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loops"))

from harness import SRC, run_child  # noqa: E402
from servers import LoopbackServer, parse_envelope, refused_port  # noqa: E402

CHILDREN = Path(__file__).parent / "children"
CHILD = "spool_process.py"
SUFFIX = ".envelope"


def run(scenario: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
    """Run ``spool_process.py`` with ``scenario`` to its end; its JSON result (AssertionError if
    it failed)."""
    result: dict[str, Any] = run_child(CHILD, scenario, timeout, children=CHILDREN, **params)
    return result


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("SENTRY_DSN", None)
    return env


class Child:
    """A ``spool_process.py`` process running beside the test (its output goes to files in ``logs``)."""

    def __init__(self, logs: Path, name: str, scenario: str, **params: Any) -> None:
        self.name = name
        self.stdout_path = logs / f"{name}.out"
        self.stderr_path = logs / f"{name}.err"
        payload = json.dumps({"scenario": scenario, **params})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(CHILDREN / CHILD), payload],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=_env(),
            )

    def output(self) -> str:
        return (
            f"{self.name} (pid {self.proc.pid}) exited {self.proc.returncode}\n"
            f"stdout:\n{self.stdout_path.read_text()[-3000:]}\nstderr:\n{self.stderr_path.read_text()[-5000:]}"
        )

    def result(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for a clean exit; its JSON result."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish in {timeout} s\n{self.output()}") from None
        lines = self.stdout_path.read_text().strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise AssertionError(self.output())
        result: dict[str, Any] = json.loads(lines[-1])
        result["stderr"] = self.stderr_path.read_text()
        return result

    def kill(self) -> None:
        """SIGKILL (if it still runs) and reap."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def killed(self) -> bool:
        return self.proc.returncode == -signal.SIGKILL


class Children:
    """The children of one test; any still running at its end is killed."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Child] = []

    def start(self, scenario: str, name: Optional[str] = None, **params: Any) -> Child:
        child = Child(self.logs, name or f"child{len(self.started)}", scenario, **params)
        self.started.append(child)
        return child

    def kill_all(self) -> None:
        for child in self.started:
            child.kill()


# -- waiting and reading


def wait_for(ready: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> None:
    """Poll ``ready()`` until true; AssertionError after ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            told = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {told}")
        time.sleep(0.02)


def event_files(spool_dir: Path) -> list[str]:
    """The names of the event files in a spool directory (anyone's, not those moved aside)."""
    try:
        return sorted(name for name in os.listdir(spool_dir) if name.endswith(SUFFIX))
    except FileNotFoundError:
        return []


def file_event_ids(spool_dir: Path) -> Counter[str]:
    """The event id of every event file, read from the file (its envelope header, which must be
    the name's event id too, and carry one whole event with that id)."""
    ids: Counter[str] = Counter()
    for name in event_files(spool_dir):
        try:
            data = (spool_dir / name).read_bytes()
        except FileNotFoundError:
            continue  # sent meanwhile
        header, items = parse_envelope(data)
        event_id = header["event_id"]
        assert name.split("_")[3] == event_id.replace("-", ""), name
        assert [item.get("type") for item, _ in items] == ["event"], name
        assert json.loads(items[0][1])["event_id"] == event_id, name
        assert "sent_at" not in header, name
        ids[event_id] += 1
    return ids


def wait_for_files(spool_dir: Path, count: int, timeout: float = 30.0) -> list[str]:
    """Wait until the directory holds ``count`` event files (exactly: more would be a bug)."""
    wait_for(
        lambda: len(event_files(spool_dir)) >= count,
        timeout,
        lambda: f"{count} files in {spool_dir}; found {len(event_files(spool_dir))}",
    )
    files = event_files(spool_dir)
    assert len(files) == count, f"{len(files)} files, expected {count}"
    return files


def event_ids(servers: Iterable[LoopbackServer]) -> Counter[str]:
    """How many times each event id arrived, over ``servers``."""
    counts: Counter[str] = Counter()
    for server in servers:
        counts.update(event["event_id"] for event in server.events())
    return counts


def wait_for_events(server: LoopbackServer, expected: set[str], timeout: float = 40.0) -> None:
    """Wait until every event of ``expected`` arrived at ``server``."""
    wait_for(
        lambda: expected <= set(event_ids([server])),
        timeout,
        lambda: f"{len(expected)} events; {len(expected & set(event_ids([server])))} arrived",
    )


def assert_exactly_once(counts: Counter[str], expected: set[str]) -> None:
    """Every expected event arrived, none twice, nothing else."""
    twice = {event_id: n for event_id, n in counts.items() if n > 1}
    missing = expected - set(counts)
    unexpected = set(counts) - expected
    summary = (
        f"{len(missing)} missing, {len(twice)} more than once {sorted(twice.items())[:5]}, "
        f"{len(unexpected)} unexpected; {sum(counts.values())} arrived for {len(expected)} captured"
    )
    assert not missing and not twice and not unexpected, summary


def read_ids(path: Path) -> list[str]:
    ids: list[str] = json.loads(path.read_text())["ids"]
    return ids


# -- addresses


class Port:
    """A port on 127.0.0.1 that refuses connections until :meth:`serve` starts a server on it."""

    def __init__(self) -> None:
        self._placeholder: Any = refused_port()
        self.number = int(self._placeholder.getsockname()[1])

    def dsn(self, spool_dir: Path, query: str = "", scheme: str = "http") -> str:
        tail = f"&{query}" if query else ""
        return f"{scheme}://public@127.0.0.1:{self.number}/1?spool_dir={spool_dir}{tail}"

    def serve(self) -> LoopbackServer:
        """Let go of the port and start a recording server on it (stop it when done)."""
        self.release()
        return LoopbackServer(port=self.number).start()

    def release(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
