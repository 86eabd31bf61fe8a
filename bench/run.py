"""raven-ng benchmark suite: raven-ng vs raven 6.10.0 vs sentry-sdk against a loopback sink (stdlib only).

    python bench/run.py [--quick] [--scenarios PATTERN ...] [--reps N] [--out bench/results/<date>.json]

Builds (once, cached under ~/.cache/raven-ng-bench/) a venv per client, starts the loopback sink
(bench/sink.py) in its own process, runs every scenario for every client, each run in its own
subprocess of that client's venv (bench/client_runner.py), interleaved (A B C A B C ...), writes the
results as JSON and prints the markdown table (bench/report.py renders it again from the JSON).
See bench/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import http.client
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

import bugsink
import report

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
RUNNER = os.path.join(BENCH_DIR, "client_runner.py")
SINK = os.path.join(BENCH_DIR, "sink.py")
CLIENTS = ("raven-ng", "raven", "sentry-sdk")
PEERS = ("raven", "sentry-sdk")
MODES = {"healthy": "ok", "down": "down", "hang": "hang", "429": "r429"}
MODE_TITLES = {"healthy": "healthy", "down": "server down", "hang": "never answers", "429": "429 rate limit"}

LIVE: List[subprocess.Popen[bytes]] = []  # every process we started and have not reaped yet


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# -- scenarios -------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One measured situation; every client runs it ``reps`` times."""

    name: str
    title: str
    kind: str  # overhead | throughput | rss | exit | paced | floor
    unit: str
    better: str  # lower | higher
    mode: str = "ok"  # the sink's answer (sink.py), or "down" (a refused port)
    event: str = "message"
    transport: str = "threaded"
    loop: str = "none"  # the event-loop family the child runs its body in (client_runner.py)
    server: str = "sink"  # or "bugsink": a real Bugsink (bench/bugsink.py) instead of the sink
    n: int = 0
    warmup: int = 0
    deadline: float = 120.0
    target: Optional[float] = None
    clients: Tuple[str, ...] = CLIENTS
    options: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # extra init options per client
    secondary: List[Tuple[str, str]] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


def scenarios(quick: bool) -> List[Scenario]:
    def size(full: int, small: int) -> int:
        return small if quick else full

    out: List[Scenario] = [
        Scenario(
            "floor",
            "machine floor",
            "floor",
            "",
            "higher",
            n=size(3000, 800),
            deadline=60,
            clients=("machine",),
            extra={"seconds": 3.0 if not quick else 1.0, "codec_reps": size(500, 200)},
        )
    ]
    overhead_secondary = [
        ("p50_us", "p50 µs"),
        ("p99_us", "p99 µs"),
        ("process_cpu_us_per_call", "process CPU µs/call (all threads, during the loop)"),
        ("sink_events", "events at the sink when the loop ended"),
        ("delivered_pct", "% of the burst (incl. warm-up) delivered afterwards (healthy server)"),
    ]
    for mode_name, mode in MODES.items():
        for event in ("message", "exception"):
            healthy = mode_name == "healthy"
            out.append(
                Scenario(
                    f"overhead_{event}_{mode_name}",
                    "caller overhead, {}, {}".format(
                        "captureMessage" if event == "message" else "captureException", MODE_TITLES[mode_name]
                    ),
                    "overhead",
                    "µs/call",
                    "lower",
                    mode=mode,
                    event=event,
                    n=size(2000, 300),
                    warmup=size(200, 50),
                    deadline=120,
                    target=0.25 if healthy else None,
                    secondary=overhead_secondary,
                )
            )
    throughput_secondary = [
        ("delivered", "events delivered"),
        ("capture_s", "capture loop (s)"),
        ("process_cpu_us_per_event", "process CPU µs/event (capture + delivery)"),
        ("wire_bytes_per_event", "bytes on the wire per event"),
        ("raw_bytes_per_event", "uncompressed bytes per event"),
        ("requests_per_event", "requests per event"),
        ("connections", "TCP connections used"),
        ("sink_cpu_share", "sink CPU share of one core while receiving"),
    ]
    n_thr = size(5000, 1000)
    out.append(
        Scenario(
            "throughput_threaded",
            f"delivered events/s, threaded transport ({n_thr} messages)",
            "throughput",
            "events/s",
            "higher",
            n=n_thr,
            deadline=180,
            target=3.0,
            # sentry-sdk drops all but 100 of a burst with its default queue; measure its delivery instead.
            options={"sentry-sdk": {"transport_queue_size": n_thr}},
            secondary=throughput_secondary,
        )
    )
    n_sync = size(2000, 300)
    out.append(
        Scenario(
            "throughput_sync",
            f"delivered events/s, sync HTTPTransport ({n_sync} messages)",
            "throughput",
            "events/s",
            "higher",
            transport="sync",
            n=n_sync,
            deadline=180,
            clients=("raven-ng", "raven", "sentry-sdk"),
            secondary=throughput_secondary,
            extra={"not_applicable": {"sentry-sdk": "no synchronous transport"}},
        )
    )
    n_rss = size(20000, 5000)
    out.append(
        Scenario(
            "rss_hang",
            f"RSS growth, {n_rss} messages into a never-answering server",
            "rss",
            "MiB",
            "lower",
            mode="hang",
            n=n_rss,
            warmup=100,
            deadline=180,
            secondary=[("peak_growth_mib", "peak RSS growth (MiB)"), ("mean_us", "caller µs/call")],
        )
    )
    n_exit = size(500, 200)
    out.append(
        Scenario(
            "exit_delay50",
            f"events delivered at exit, {n_exit} captured, 50 ms server",
            "exit",
            "events",
            "higher",
            mode="delay50",
            n=n_exit,
            deadline=60,
            secondary=[("exit_s", "time to exit after the last capture (s)")],
        )
    )
    n_exit2 = size(1000, 300)
    out.append(
        Scenario(
            "exit_healthy",
            f"events delivered at exit, {n_exit2} captured, healthy server",
            "exit",
            "events",
            "higher",
            n=n_exit2,
            deadline=60,
            secondary=[("exit_s", "time to exit after the last capture (s)")],
        )
    )
    n_paced, interval, idle = size(200, 50), 0.005, 3.0
    out.append(
        Scenario(
            "server_error_500",
            f"requests per captured event, server answers 500 ({n_paced} messages "
            f"{interval * 1000:g} ms apart, {idle:g} s idle, flush, exit)",
            "paced",
            "requests/event",
            "lower",
            mode="r500",
            n=n_paced,
            deadline=60,
            secondary=[
                ("requests", "requests received"),
                ("idle_requests", "requests during the idle period"),
                ("client_reports", "client-report items received"),
                ("events_received", "events received"),
                ("process_cpu_us_per_event", "process CPU µs/event (capture + idle + flush, all threads)"),
                ("idle_cpu_us", "process CPU µs during the idle period"),
                ("exit_s", "time to exit after the flush (s)"),
            ],
            # the library's own flush timeout: raven-ng's and sentry-sdk's shutdown_timeout (2 s)
            extra={"interval_s": interval, "idle_s": idle, "flush_timeout": 2.0},
        )
    )
    out += transport_scenarios(quick, overhead_secondary, throughput_secondary)
    out += bugsink.scenarios(quick, Scenario)
    return out


def transport_scenarios(
    quick: bool, overhead_secondary: List[Tuple[str, str]], throughput_secondary: List[Tuple[str, str]]
) -> List[Scenario]:
    """``overhead_<t>`` / ``throughput_<t>`` for each transport, run inside its own loop family.

    The threaded row reuses ``overhead_message_healthy`` and ``throughput_threaded``, the sync row
    ``throughput_sync`` (``overhead_sync`` is new). sentry-sdk runs its default transport inside the
    same loop (what that loop's users have today).
    """
    n_over, warm, n_thr = (300, 50, 300) if quick else (2000, 200, 2000)
    out: List[Scenario] = []
    for name, loop in report.TRANSPORT_ROWS.items():
        na: Dict[str, str] = {}
        if name in ("sync", "requests"):
            na["sentry-sdk"] = "no synchronous transport"
        if name == "asyncio":
            na["raven"] = "raven 6.10 has no asyncio transport"
        label = f"{name} transport" + (f", in {loop}" if loop != "none" else "")
        if name != "threaded":
            out.append(
                Scenario(
                    f"overhead_{name}",
                    f"caller overhead, captureMessage, healthy, {label}",
                    "overhead",
                    "µs/call",
                    "lower",
                    transport=name,
                    loop=loop,
                    n=n_over,
                    warmup=warm,
                    deadline=120,
                    secondary=overhead_secondary,
                    extra={"not_applicable": na},
                )
            )
        if name not in ("threaded", "sync"):
            out.append(
                Scenario(
                    f"throughput_{name}",
                    f"delivered events/s, {label} ({n_thr} messages)",
                    "throughput",
                    "events/s",
                    "higher",
                    transport=name,
                    loop=loop,
                    n=n_thr,
                    deadline=180,
                    options={"sentry-sdk": {"transport_queue_size": n_thr}},
                    secondary=throughput_secondary,
                    extra={"not_applicable": na},
                )
            )
    return out


GROUPS = {
    "issue2": ["overhead_message_healthy", "overhead_exception_healthy", "throughput_threaded"],
    "overhead": ["overhead_*"],
    "faults": ["overhead_*_down", "overhead_*_hang", "overhead_*_429"],
    "bugsink": ["bugsink_*"],
    "transports": ["overhead_message_healthy", "throughput_threaded", "throughput_sync"]
    + [
        f"{kind}_{t}" for t in report.TRANSPORT_ROWS for kind in ("overhead", "throughput") if t != "threaded"
    ],
}


def select(all_scenarios: List[Scenario], patterns: Optional[List[str]]) -> List[Scenario]:
    if not patterns:
        return all_scenarios
    expanded: List[str] = []
    for p in patterns:
        for part in p.split(","):
            expanded += GROUPS.get(part.strip(), [part.strip()])
    chosen = [s for s in all_scenarios if any(fnmatch.fnmatchcase(s.name, p) for p in expanded if p)]
    unknown = [p for p in expanded if p and not any(fnmatch.fnmatchcase(s.name, p) for s in all_scenarios)]
    if unknown:
        raise SystemExit("unknown scenario(s): {} (see --list)".format(", ".join(unknown)))
    return chosen


# -- venvs -----------------------------------------------------------------------------------------


def run_quiet(cmd: List[str], what: str, logfile: str) -> None:
    with open(logfile, "ab") as out:
        out.write(("\n$ {}\n".format(" ".join(cmd))).encode())
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    if proc.returncode:
        with open(logfile, errors="replace") as f:
            tail = "".join(f.readlines()[-20:])
        raise SystemExit(f"{what} failed (exit {proc.returncode}); log {logfile}:\n{tail}")


def project_dependencies(src_repo: str) -> List[str]:
    with open(os.path.join(src_repo, "pyproject.toml")) as f:
        text = f.read()
    try:
        import tomllib

        return list(tomllib.loads(text)["project"].get("dependencies", []))
    except ImportError:  # Python < 3.11: the one list we need, read plainly
        found = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        return re.findall(r"['\"]([^'\"]+)['\"]", found.group(1)) if found else []


LOOP_PACKAGES = ["requests", "gevent", "eventlet", "tornado", "twisted[tls]", "aiohttp"]


def loop_requirements(src_repo: str) -> List[str]:
    """raven-ng's ``all`` extra (the transports' libraries, with its lower bounds); the peers get
    ``LOOP_PACKAGES`` unpinned, so every venv resolves the same (latest) versions."""
    try:
        import tomllib

        with open(os.path.join(src_repo, "pyproject.toml"), "rb") as f:
            extras = tomllib.load(f)["project"].get("optional-dependencies", {})
        names = re.findall(r"\[(.*)\]", extras["all"][0])[0].split(",")
        return [req for name in names for req in extras[name.strip()]]
    except (ImportError, KeyError, IndexError, OSError):
        return list(LOOP_PACKAGES)


def ensure_venv(path: str, requirements: List[str], base_python: str, refresh: bool, logfile: str) -> str:
    """A cached venv with ``requirements``; rebuilt when they change or with ``--refresh``."""
    python = os.path.join(path, "bin", "python")
    marker = os.path.join(path, ".bench-ready")
    want = json.dumps({"requirements": requirements, "base": os.path.realpath(base_python)})
    if not refresh and os.path.exists(marker) and os.path.exists(python):
        with open(marker) as f:
            if f.read() == want:
                return python
    log("building venv {} ({})".format(path, " ".join(requirements) or "no requirements"))
    if os.path.exists(path):
        shutil.rmtree(path)
    run_quiet([base_python, "-m", "venv", path], "venv " + path, logfile)
    if requirements:
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade"]
        run_quiet(pip + requirements, "pip install " + " ".join(requirements), logfile)
    with open(marker, "w") as f:
        f.write(want)
    return python


def build_venvs(args: argparse.Namespace, clients: List[str]) -> Dict[str, str]:
    cache = os.path.expanduser(args.cache_dir)
    tag = (
        "py"
        + subprocess.run(
            [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    root = os.path.join(cache, tag)
    os.makedirs(root, exist_ok=True)
    logfile = os.path.join(root, "build.log")
    wanted = {
        "raven": (os.path.join(root, "raven-6.10.0"), ["raven==6.10.0"] + LOOP_PACKAGES),
        "sentry-sdk": (os.path.join(root, "sentry-sdk"), ["sentry-sdk"] + LOOP_PACKAGES),
        # raven-ng runs from the checkout (PYTHONPATH=<src>/src); its venv holds only its dependencies
        # and the transports' libraries (the loop families of the transport scenarios).
        "raven-ng": (
            os.path.join(root, "raven-ng-deps"),
            project_dependencies(args.raven_ng_src) + loop_requirements(args.raven_ng_src),
        ),
    }
    pythons = {}
    for client in clients:
        path, reqs = wanted[client]
        refresh = args.refresh_peers and client != "raven-ng"
        pythons[client] = ensure_venv(path, reqs, args.python, refresh, logfile)
    return pythons


def child_env(client: str, src_repo: str) -> Dict[str, str]:
    drop = (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONWARNINGS",
        "PYTHONDEVMODE",
        "PYTHONTRACEMALLOC",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_") and k not in drop}
    if client == "raven-ng":
        env["PYTHONPATH"] = os.path.join(src_repo, "src")
    return env


RAVEN_PROBE = (
    "import raven, json; print(json.dumps([raven.VERSION, raven.__file__, hasattr(raven, 'Client')]))"
)
PROBES = {
    "raven-ng": RAVEN_PROBE,
    "raven": RAVEN_PROBE,
    "sentry-sdk": "import sentry_sdk as s, json; print(json.dumps([s.VERSION, s.__file__, True]))",
}


def probe(client: str, python: str, src_repo: str) -> Tuple[Optional[str], str]:
    """(version, "") when the client imports and has a Client; (None, why) otherwise."""
    try:
        proc = subprocess.run(
            [python, "-c", PROBES[client]],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(client, src_repo),
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired:
        return None, "import timed out"
    if proc.returncode:
        return None, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    version, _, has_client = json.loads(proc.stdout.strip().splitlines()[-1])
    return (version, "") if has_client else (None, "imports but has no Client yet")


# -- processes ---------------------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc in LIVE:
        LIVE.remove(proc)


def stop_all() -> None:
    for proc in list(LIVE):
        try:
            stop_process(proc, grace=2.0)
        except Exception as e:  # keep stopping the others
            log(f"could not stop pid {proc.pid}: {e!r}")


class Sink:
    """The sink process (bench/sink.py) and a keep-alive connection to its control paths."""

    def __init__(self, python: str, port: int = 0, extra_args: Tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [python, SINK, "--port", str(port), "--exit-on-stdin-eof", *extra_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        LIVE.append(self.proc)
        assert self.proc.stdout is not None
        line = read_line_with_timeout(self.proc.stdout, 15.0)
        if not line.startswith(b"PORT "):
            stop_process(self.proc)
            raise SystemExit(f"sink did not start ({line!r})")
        self.port = int(line.split()[1])
        self.conn: Optional[http.client.HTTPConnection] = None

    def get(self, path: str) -> Any:
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                body = resp.read()
                return json.loads(body) if resp.status == 200 else None
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return None

    def stats(self, tag: str) -> Dict[str, Any]:
        return self.get("/_stats/" + tag) or {}

    def cpu_seconds(self) -> float:
        """The sink's CPU time so far (user + system), to see whether it was the bottleneck."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # the sink stops on EOF
            except OSError:
                pass
        stop_process(self.proc)


def read_line_with_timeout(stream: IO[bytes], timeout: float) -> bytes:
    box: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: box.put(stream.readline()), daemon=True).start()
    try:
        return box.get(timeout=timeout)
    except queue.Empty:
        return b""


class RefusedPort:
    """A loopback port bound but not listening: connecting to it is refused at once."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


class Child:
    """One client_runner process; its ``@@BENCH`` lines arrive on a queue."""

    def __init__(
        self, python: str, spec: Dict[str, Any], env: Dict[str, str], stderr_path: str, script: str = RUNNER
    ) -> None:
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [python, script, json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                cwd=tempfile.gettempdir(),
            )
        LIVE.append(self.proc)
        self.messages: queue.Queue[Optional[Dict[str, Any]]] = queue.Queue()
        self.seen: Dict[str, Dict[str, Any]] = {}
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(b"@@BENCH "):
                try:
                    self.messages.put(json.loads(line[8:]))
                except ValueError:
                    pass
        self.messages.put(None)

    def pump(self, timeout: float = 0.0) -> None:
        """Move arrived messages into ``seen`` (waiting up to ``timeout`` for the first one)."""
        try:
            msg = self.messages.get(timeout=timeout) if timeout > 0 else self.messages.get_nowait()
            while True:
                if msg is None:
                    self.eof = True
                else:
                    self.seen[msg.get("phase", "?")] = msg
                msg = self.messages.get_nowait()
        except queue.Empty:
            pass

    def wait_for(self, phase: str, deadline: float) -> Optional[Dict[str, Any]]:
        while phase not in self.seen and "error" not in self.seen and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.pump(min(remaining, 0.2))
        return self.seen.get(phase)

    def tell(self, text: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def finish(self, grace: float) -> Optional[int]:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        code = self.proc.poll()
        stop_process(self.proc, grace=1.0)
        return code

    def error(self) -> Optional[str]:
        if "error" in self.seen:
            return str(self.seen["error"].get("error"))
        try:
            with open(self.stderr_path, errors="replace") as f:
                lines = [ln.rstrip() for ln in f.readlines() if ln.strip()]
        except OSError:
            lines = []
        return " | ".join(lines[-3:]) if lines else None

    def first_error(self) -> Optional[str]:
        """The first exception line (``SomeError: ...``) the child wrote to stderr, else the first line
        mentioning an error (warnings skipped): why a library does not work in this loop."""
        try:
            with open(self.stderr_path, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return None
        for pattern in (r"^[\w.]*(Error|Exception)\b.*:", r"(?i)error"):
            for line in lines:
                if re.search(pattern, line) and "Warning" not in line:
                    return line[:200]
        return None


# -- one run -----------------------------------------------------------------------------------------


class Runner:
    def __init__(
        self,
        args: argparse.Namespace,
        pythons: Dict[str, str],
        sink: Sink,
        refused: RefusedPort,
        logdir: str,
        bugsink_bench: Optional[bugsink.BugsinkBench] = None,
    ) -> None:
        self.args = args
        self.pythons = pythons
        self.sink = sink
        self.refused = refused
        self.logdir = logdir
        self.bugsink = bugsink_bench
        self.counter = 0
        self.sink_cpu0 = 0.0

    def dsn(self, sc: Scenario, tag: str) -> str:
        if sc.mode == "down":
            return f"http://benchkey@127.0.0.1:{self.refused.port}/down/{tag}/1"
        return f"http://benchkey@127.0.0.1:{self.sink.port}/{sc.mode}/{tag}/1"

    def run(self, sc: Scenario, client: str, rep: int) -> Dict[str, Any]:
        self.counter += 1
        tag = f"{sc.name}-{client}-{rep}-{self.counter}"
        record: Dict[str, Any] = {"rep": rep, "client": client, "tag": tag, "value": None}
        na = sc.extra.get("not_applicable", {}).get(client)
        if na:
            record["not_applicable"] = na
            return record
        spec: Dict[str, Any] = {
            "lib": "floor" if sc.kind == "floor" else client,
            "kind": sc.kind,
            "event": sc.event,
            "transport": sc.transport,
            "dsn": self.dsn(sc, tag),
            "n": sc.n,
            "warmup": sc.warmup,
            "deadline": sc.deadline,
            "then_wait": sc.kind == "overhead" and sc.mode == "ok",
            "loop": sc.loop,
            "options": sc.options.get(client, {}),
        }
        if sc.kind == "paced":
            spec.update(sc.extra, fast_exit=False)  # a normal exit: the library's atexit hooks run
        if sc.kind == "floor":
            spec.update(host="127.0.0.1", port=self.sink.port, path=f"/ok/{tag}/api/1/envelope/", **sc.extra)
            python, env = self.args.python, child_env("floor", self.args.raven_ng_src)
        else:
            python, env = self.pythons[client], child_env(client, self.args.raven_ng_src)
        # A Bugsink run: its own project and DSN (or floor target), and bench/bugsink.py's handlers.
        owner: Any = self
        script = RUNNER
        if sc.server == "bugsink" and self.bugsink is not None:
            owner, script = self.bugsink, self.bugsink.prepare(tag, spec)
        t0 = time.monotonic()
        sink_cpu0 = self.sink_cpu0 = self.sink.cpu_seconds()
        child = Child(python, spec, env, os.path.join(self.logdir, tag + ".stderr"), script)
        deadline = t0 + sc.deadline + 15  # the child's own watchdog fires first
        grace = 10.0
        try:
            handler = getattr(owner, "_" + sc.kind)
            handler(sc, child, tag, deadline, record)
        except BaseException:
            grace = 0.5  # interrupted: do not wait for the child's own exit
            raise
        finally:
            code = child.finish(grace=grace)
            record["exit_code"] = code
            record["duration_s"] = round(time.monotonic() - t0, 3)
            record["sink_cpu_s"] = round(self.sink.cpu_seconds() - sink_cpu0, 3)
        if "ready" in child.seen:
            record["version"] = child.seen["ready"].get("version")
        first_error = child.first_error()
        if first_error:
            record["first_error"] = first_error
        if record["value"] is None and not record.get("error"):
            reported = child.error() if "error" in child.seen else None
            record["error"] = reported or first_error or child.error() or f"no result (exit code {code})"
        return record

    def _result(self, child: Child, deadline: float, record: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        res = child.wait_for("result", deadline)
        if res is None:
            record["error"] = child.error() or "no result before the deadline"
        return res

    def _floor(self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        res = self._result(child, deadline, record)
        if res is not None:
            record["metrics"] = {k: v for k, v in res.items() if isinstance(v, (int, float))}
            record["value"] = res["keepalive_posts_per_s"]

    def _overhead(
        self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]
    ) -> None:
        res = self._result(child, deadline, record)
        if res is None:
            return
        record["value"] = res["mean_us"]
        metrics = {k: res[k] for k in ("p50_us", "p90_us", "p99_us", "max_us", "process_cpu_us_per_call")}
        metrics["sink_events"] = self.sink.stats(tag).get("events", 0)
        record["metrics"] = metrics
        record["delivery_stats"] = res.get("delivery_stats")
        if sc.mode == "ok":
            # How much of the burst (warm-up included) reaches the server once the caller stops.
            total = sc.n + sc.warmup
            stats = self.wait_for_sink(tag, total, child, deadline, lambda: True)
            child.tell("exit\n")
            after = child.wait_for("after", min(deadline, time.monotonic() + 10))
            if after is not None:
                record["delivery_stats"] = after.get("delivery_stats")
            metrics["delivered_pct"] = 100.0 * stats.get("events", 0) / total
            record["sink"] = stats

    def wait_for_sink(
        self, tag: str, target: int, child: Child, deadline: float, done_capturing: Callable[[], bool]
    ) -> Dict[str, Any]:
        """Poll the sink until ``target`` events arrived, or nothing new came for ``--stall``
        seconds once ``done_capturing()``, or the child died, or the deadline."""
        count, changed = 0, time.monotonic()
        stats: Dict[str, Any] = {}
        while time.monotonic() < deadline:
            child.pump()
            if "error" in child.seen or child.eof:
                break
            stats = self.sink.stats(tag)
            now = time.monotonic()
            if stats.get("events", 0) != count:
                count, changed = stats.get("events", 0), now
            if count >= target:
                break
            if done_capturing() and now - changed > self.args.stall:
                break  # nothing new arrives: whatever was not delivered is lost
            time.sleep(0.05)
        return stats

    def _rss(self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        res = self._result(child, deadline, record)
        if res is None:
            return
        record["value"] = res["rss_growth_mib"]
        record["metrics"] = {
            k: res[k] for k in ("peak_growth_mib", "mean_us", "rss_before_mib", "rss_after_mib")
        }
        record["delivery_stats"] = res.get("delivery_stats")

    def _throughput(
        self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]
    ) -> None:
        self.wait_for_sink(tag, sc.n, child, deadline, lambda: "captured" in child.seen)
        sink_cpu = self.sink.cpu_seconds() - self.sink_cpu0
        captured = child.wait_for("captured", min(deadline, time.monotonic() + 60))
        child.tell("exit\n")
        res = child.wait_for("result", min(deadline, time.monotonic() + 15))
        stats = self.sink.stats(tag)
        record["sink"] = stats
        if captured is None:
            record["error"] = child.error() or "the client did not finish capturing"
            return
        delivered = stats.get("events", 0)
        last = stats.get("last_event")
        metrics: Dict[str, Any] = {
            "delivered": delivered,
            "capture_s": captured["t_captured"] - captured["t_first"],
        }
        if delivered:
            metrics["wire_bytes_per_event"] = stats["wire_bytes"] / delivered
            metrics["raw_bytes_per_event"] = stats["raw_bytes"] / delivered
            metrics["requests_per_event"] = stats["requests"] / delivered
            metrics["connections"] = stats.get("connections", 0)
        if res is not None:
            metrics["process_cpu_us_per_event"] = res["process_cpu_us_per_event"]
            record["delivery_stats"] = res.get("delivery_stats")
        record["metrics"] = metrics
        if delivered < sc.n:
            record["incomplete"] = f"{delivered} of {sc.n} delivered"
        if delivered and last is not None and last > captured["t_first"]:
            record["value"] = delivered / (last - captured["t_first"])
            # Share of one core the sink used while the events arrived: near 1.0 means the sink,
            # not the client, set the pace.
            metrics["sink_cpu_share"] = sink_cpu / (last - captured["t_first"])

    def exited(self, child: Child, tag: str, deadline: float, record: Dict[str, Any]) -> float:
        """Wait for the child's own exit, then until the sink has read everything it was sent (in
        ``record["sink"]``); the time the child was seen gone."""
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            record["error"] = "did not exit before the deadline"
        exited = time.monotonic()
        # Requests written before the exit are already in the sink's socket buffers: wait until it
        # has read them all (the count stops changing).
        count, changed, limit = -1, time.monotonic(), time.monotonic() + 5
        stats: Dict[str, Any] = {}
        while time.monotonic() < limit:
            stats = self.sink.stats(tag)
            if stats.get("requests", 0) != count:
                count, changed = stats.get("requests", 0), time.monotonic()
            elif time.monotonic() - changed > 0.5:
                break
            time.sleep(0.05)
        record["sink"] = stats
        return exited

    def _exit(self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        captured = child.wait_for("captured", deadline)
        if captured is None:
            record["error"] = child.error() or "the client did not finish capturing"
            return
        exited = self.exited(child, tag, deadline, record)
        stats = record["sink"]
        record["metrics"] = {
            "exit_s": exited - captured["t_captured"],
            "capture_s": captured["t_captured"] - captured["t_first"],
            "delivered": stats.get("events", 0),
        }
        if "error" not in record:
            record["value"] = stats.get("events", 0)

    def _paced(self, sc: Scenario, child: Child, tag: str, deadline: float, record: Dict[str, Any]) -> None:
        """Requests the server received per captured event, over the process's whole life (exit
        included); requests and CPU during the idle period after the last capture."""
        res = self._result(child, deadline, record)
        if res is None:
            return
        exited = self.exited(child, tag, deadline, record)
        stats = record["sink"]
        arrivals = self.sink.get("/_times/" + tag) or []
        requests = stats.get("requests", 0)
        record["metrics"] = {
            "requests": requests,
            "idle_requests": sum(1 for t in arrivals if res["t_idle"] <= t < res["t_idle_end"]),
            "client_reports": (stats.get("items") or {}).get("client_report", 0),
            "events_received": stats.get("events", 0),
            "process_cpu_us_per_event": res["process_cpu_us_per_event"],
            "idle_cpu_us": res["idle_cpu_us"],
            "capture_s": res["t_idle"] - res["t_first"],
            "flush_s": res["t_flushed"] - res["t_idle_end"],
            "exit_s": exited - res["t_flushed"],
        }
        record["delivery_stats"] = res.get("delivery_stats")
        if "error" not in record:
            record["value"] = requests / sc.n


# -- summary -----------------------------------------------------------------------------------------


def summarize(values: List[float]) -> Dict[str, Any]:
    if not values:
        return {"median": None, "min": None, "max": None, "count": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "count": len(values)}


def summarize_scenario(sc: Scenario, runs: List[Dict[str, Any]], clients: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "name": sc.name,
        "title": sc.title,
        "kind": sc.kind,
        "unit": sc.unit,
        "better": sc.better,
        "target": sc.target,
        "params": {
            "n": sc.n,
            "warmup": sc.warmup,
            "mode": sc.mode,
            "event": sc.event,
            "transport": sc.transport,
            "options": sc.options,
        },
        "secondary": [list(x) for x in sc.secondary],
        "clients": {},
        "runs": runs,
    }
    for client in [c for c in clients if c in sc.clients] + (["machine"] if sc.kind == "floor" else []):
        mine = [r for r in runs if r["client"] == client]
        if not mine:
            continue
        if any(r.get("not_applicable") for r in mine):
            out["clients"][client] = {"median": None, "not_applicable": mine[0]["not_applicable"]}
            continue
        summary = summarize([r["value"] for r in mine if r["value"] is not None])
        summary["errors"] = sum(1 for r in mine if r.get("error"))
        summary["incomplete"] = sum(1 for r in mine if r.get("incomplete"))
        keys = sorted(
            {k for r in mine for k, v in (r.get("metrics") or {}).items() if isinstance(v, (int, float))}
        )
        summary["metrics"] = {
            k: summarize([r["metrics"][k] for r in mine if k in (r.get("metrics") or {})]) for k in keys
        }
        out["clients"][client] = summary
    ours = (out["clients"].get("raven-ng") or {}).get("median")
    peers: List[Tuple[str, float]] = []
    for c in PEERS:
        value = (out["clients"].get(c) or {}).get("median")
        if value is not None:
            peers.append((c, float(value)))
    if ours is not None and peers:
        pick = min if sc.better == "lower" else max
        best_client, best = pick(peers, key=lambda cv: cv[1])
        out["best_peer"] = best_client
        out["ratio"] = ours / best if best > 0 else None
    return out


def machine_info(python: str) -> Dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": version,
        "platform": platform.platform(terse=True),
        "kernel": platform.release(),
        "loadavg_start": list(os.getloadavg()),
    }


def git_info(repo: str) -> Dict[str, Any]:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", repo] + list(args), capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src")),
    }


# -- main --------------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and 2 repetitions (a few minutes)")
    ap.add_argument(
        "--scenarios",
        nargs="+",
        metavar="PATTERN",
        help="scenario names or globs (e.g. 'overhead_*_healthy'), or a group: {}".format(", ".join(GROUPS)),
    )
    ap.add_argument(
        "--clients", default=",".join(CLIENTS), help="comma-separated subset of {}".format(", ".join(CLIENTS))
    )
    ap.add_argument("--reps", type=int, help="repetitions per scenario and client (default 5, quick 2)")
    ap.add_argument(
        "--out", help="results JSON (default bench/results/<date>.json); the table goes next to it"
    )
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument(
        "--python", default=sys.executable, help="base interpreter for every venv (default: this one)"
    )
    ap.add_argument("--cache-dir", default="~/.cache/raven-ng-bench")
    ap.add_argument("--refresh-peers", action="store_true", help="rebuild the peer venvs (latest sentry-sdk)")
    ap.add_argument(
        "--raven-ng-src", default=REPO, help="the raven-ng checkout to measure (default: this repo)"
    )
    ap.add_argument(
        "--max-minutes", type=float, help="stop scheduling runs after this long (default 60, quick 10)"
    )
    ap.add_argument(
        "--stall",
        type=float,
        default=3.0,
        help="throughput runs: give up when nothing new arrived for this long after capturing",
    )
    ap.add_argument("--keep-logs", action="store_true", help="keep the children's stderr files")
    args = ap.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    if args.max_minutes is None:
        args.max_minutes = 10.0 if args.quick else 60.0
    args.raven_ng_src = os.path.abspath(args.raven_ng_src)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    chosen = select(scenarios(args.quick), args.scenarios)
    if args.list:
        for sc in chosen:
            print(f"{sc.name:<28} {sc.title} ({sc.unit or 'various'})")
        return 0
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    for c in clients:
        if c not in CLIENTS:
            raise SystemExit(f"unknown client {c!r}")

    # SIGTERM and SIGINT (even if inherited as ignored) interrupt the runs; what was measured is kept.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc)
    out_path = args.out or os.path.join(BENCH_DIR, "results", date.strftime("%Y-%m-%dT%H%M%SZ") + ".json")
    logdir = tempfile.mkdtemp(prefix="raven-ng-bench-")

    pythons = build_venvs(args, clients)
    versions: Dict[str, str] = {}
    for client in list(clients):
        version, why = probe(client, pythons[client], args.raven_ng_src)
        if version is None:
            log(f"skipping {client}: {why}")
            clients.remove(client)
        else:
            versions[client] = version
    if not clients:
        raise SystemExit("no client can run")

    results: Dict[str, Any] = {
        "schema": 1,
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(args.python),
        "versions": versions,
        "raven_ng": dict(git_info(args.raven_ng_src), src=args.raven_ng_src),
        "clients": clients,
        "config": {"quick": args.quick, "reps": args.reps, "argv": sys.argv[1:], "stall_s": args.stall},
        "scenarios": {},
    }
    plan = [
        (sc, rep, client)
        for sc in chosen
        for rep in range(args.reps)
        for client in (("machine",) if sc.kind == "floor" else [c for c in clients if c in sc.clients])
    ]
    names = ", ".join(s.name for s in chosen)
    log(f"{len(plan)} runs: {names}; clients {', '.join(clients)}; logs {logdir}")
    sink: Optional[Sink] = None
    refused = RefusedPort()
    runs: Dict[str, List[Dict[str, Any]]] = {sc.name: [] for sc in chosen}
    bugsink_bench = bugsink.BugsinkBench(args.stall, log)
    try:
        sink = Sink(args.python)
        if any(sc.server == "bugsink" for sc, _, _ in plan):  # started only when needed
            started_bugsink = bugsink_bench.start()
            results["bugsink"] = {"version": bugsink_bench.version, "started": started_bugsink}
            if not started_bugsink:
                plan = [p for p in plan if p[0].server != "bugsink"]
        runner = Runner(args, pythons, sink, refused, logdir, bugsink_bench)
        for i, (sc, rep, client) in enumerate(plan, 1):
            if sink.proc.poll() is not None:
                raise RuntimeError(f"the sink exited (code {sink.proc.returncode})")
            if time.monotonic() - started > args.max_minutes * 60:
                log(f"time budget of {args.max_minutes:.0f} min used up: {len(plan) - i + 1} runs not done")
                results["config"]["truncated"] = True
                break
            record = runner.run(sc, client, rep)
            runs[sc.name].append(record)
            shown = record.get("not_applicable") or record.get("error") or report.fmt(record["value"])
            if record.get("incomplete"):
                shown += " ({})".format(record["incomplete"])
            took = record.get("duration_s", 0)
            log(f"[{i}/{len(plan)}] {sc.name} rep {rep + 1} {client}: {shown} {sc.unit} ({took:.1f}s)")
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
        results["config"]["interrupted"] = True
    except Exception as e:  # e.g. the sink died: keep what was measured
        log(f"aborted: {e!r}: writing what was measured")
        results["config"]["aborted"] = repr(e)
    finally:
        if sink is not None:
            sink.stop()
        bugsink_bench.stop()
        refused.close()
        stop_all()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)

    for sc in chosen:
        if runs[sc.name]:
            results["scenarios"][sc.name] = summarize_scenario(sc, runs[sc.name], clients)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, default=repr)
    table = report.render(results)
    with open(os.path.splitext(out_path)[0] + ".md", "w") as f:
        f.write(table)
    sys.stdout.write(table)
    log("results: {} ({:.0f} s)".format(out_path, results["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
