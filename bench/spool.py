"""raven-ng's durable spool off vs on, in the same run, against the loopback sink (stdlib only).

    python3 bench/spool.py [--quick] [--reps N] [--only overhead,throughput,replay,rss,exit,exit_healthy]

Starts bench/sink.py (with ``--track-ids``: every event id is counted, so repeats show), then runs
each measurement in fresh subprocesses of one interpreter (default: the repo's ``.venv``) with
raven-ng from the checkout (``PYTHONPATH=<repo>/src``), spool off and on interleaved (the order
alternates every repetition), and prints the medians (min-max) and on / off as a markdown table,
saved with every run's figures to ``bench/results/spool-<UTC date>.json`` and ``.md``.

The runs bench/run.py also has go through its own code (``run.Runner``, ``client_runner.py``) with
``spool_dir`` among the client's options; the spool's own runs (server down, backlog, replay) are in
``spool_runner.py``. Every spool directory is fresh, removed after its run. See bench/README.md
("Spool benchmark") for what each row means.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import report
import run
from spool_runner import spool_files  # the child's count of spool files, the same here

BENCH_DIR = run.BENCH_DIR
REPO = run.REPO
SPOOL_RUNNER = os.path.join(BENCH_DIR, "spool_runner.py")
CLIENT = "raven-ng"
MEASUREMENTS = ("overhead", "throughput", "replay", "rss", "rss_paced", "exit", "exit_healthy")
#: Captures per second of the paced memory run (an application erring steadily through an outage).
PACED_RATE = 2000
EXIT_SERVERS = {"exit": ("delay50", "50 ms server"), "exit_healthy": ("ok", "healthy sink")}
VARIANT_TITLES = {"off": "spool off", "on": "spool on (disk)", "on_tmpfs": "spool on (tmpfs)"}
RSS_LIMIT_MIB = 4.0
log = run.log


@dataclass
class Sizes:
    overhead: int  # captures timed per run (after ``warmup``)
    warmup: int
    throughput: int  # messages captured as fast as possible
    backlog: int  # events waiting in the spool when the replaying process starts
    rss: int  # messages captured into a server that is down
    exit: int  # messages captured against the 50 ms server before a normal exit


FULL = Sizes(overhead=2000, warmup=200, throughput=5000, backlog=10000, rss=20000, exit=1000)
QUICK = Sizes(overhead=300, warmup=50, throughput=1000, backlog=2000, rss=5000, exit=300)


# -- where the spool lives ---------------------------------------------------------------------------


def filesystem(path: str) -> Dict[str, Any]:
    """The filesystem holding ``path``: the longest mount point of /proc/mounts above it."""
    real = os.path.realpath(path)
    found = ("?", "/", "?")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                device, mount, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(found[1]):  # a later mount on the same point wins
                    found = (device, mount, fstype)
    except OSError:
        pass
    info: Dict[str, Any] = {"path": real, "device": found[0], "mount": found[1], "fstype": found[2]}
    try:
        st = os.statvfs(real)
        info["free_gib"] = round(st.f_bavail * st.f_frsize / 2**30, 1)
    except OSError:
        pass
    return info


def fs_label(info: Dict[str, Any]) -> str:
    where = info.get("under") or info["path"]
    if info["fstype"] == "tmpfs":
        return f"tmpfs, {where}"
    return f"{info['fstype']} on {info['device']}, {where}"


class SpoolDirs:
    """One base directory per filesystem; a fresh spool directory per run, removed after it."""

    def __init__(self, disk_base: str, tmpfs_base: Optional[str]) -> None:
        self.bases: Dict[str, str] = {"on": tempfile.mkdtemp(prefix="raven-ng-spool-bench-", dir=disk_base)}
        if tmpfs_base and os.path.isdir(tmpfs_base):
            self.bases["on_tmpfs"] = tempfile.mkdtemp(prefix="raven-ng-spool-bench-", dir=tmpfs_base)
        self.info = {
            variant: dict(filesystem(base), under=os.path.dirname(base))
            for variant, base in self.bases.items()
        }

    def fresh(self, variant: str, tag: str) -> Optional[str]:
        """A spool directory that does not exist yet (the client creates it), or None when off."""
        if variant == "off":
            return None
        return os.path.join(self.bases[variant], tag)

    def close(self) -> None:
        for base in self.bases.values():
            shutil.rmtree(base, ignore_errors=True)


def corrupt_files(path: Optional[str]) -> int:
    try:
        return len(os.listdir(os.path.join(path, "corrupt"))) if path else 0
    except OSError:
        return 0


def options(spool: Optional[str]) -> Dict[str, Any]:
    return {"spool_dir": spool} if spool else {}


# -- the table's rows ----------------------------------------------------------------------------------


@dataclass
class Row:
    measurement: str
    title: str
    unit: str
    better: str  # lower | higher
    off: Optional[str]  # the variant compared against (None: spool only)
    on: str
    metric: Optional[str] = None  # None: the run's value
    target: Tuple[Any, ...] = ()  # ("ratio", x) | ("below", mib) | ("all", n) | ("once", n)


def rows(sizes: Sizes, dirs: SpoolDirs) -> List[Row]:
    disk = f"spool on disk: {fs_label(dirs.info['on'])}"
    out = [
        Row(
            "overhead_message",
            f"caller overhead, captureMessage, {sizes.overhead:,} calls, healthy sink ({disk})",
            "µs/call",
            "lower",
            "off",
            "on",
            target=("ratio", 1.10),
        ),
        Row(
            "overhead_exception",
            f"caller overhead, captureException, {sizes.overhead:,} calls, healthy sink ({disk})",
            "µs/call",
            "lower",
            "off",
            "on",
            target=("ratio", 1.10),
        ),
    ]
    if "on_tmpfs" in dirs.bases:
        out.append(
            Row(
                "throughput",
                f"delivered events/s, {sizes.throughput:,} messages, healthy sink "
                f"(spool on tmpfs: {fs_label(dirs.info['on_tmpfs'])})",
                "events/s",
                "higher",
                "off",
                "on_tmpfs",
                target=("ratio", 0.80),
            )
        )
    out += [
        Row(
            "throughput",
            f"delivered events/s, {sizes.throughput:,} messages, healthy sink ({disk})",
            "events/s",
            "higher",
            "off",
            "on",
            target=("ratio", 0.80),
        ),
        Row(
            "replay",
            f"replay of a {sizes.backlog:,}-event backlog left by a process that met a server down, "
            f"events/s ({disk}; spool only)",
            "events/s",
            "higher",
            None,
            "on",
            target=("once", sizes.backlog),
        ),
        Row(
            "rss",
            f"RSS growth (VmRSS), {sizes.rss:,} messages as fast as possible, server down ({disk})",
            "MiB",
            "lower",
            "off",
            "on",
            target=("below", RSS_LIMIT_MIB),
        ),
        Row(
            "rss_paced",
            f"RSS growth (VmRSS), {sizes.rss:,} messages at {PACED_RATE:,}/s, server down ({disk})",
            "MiB",
            "lower",
            "off",
            "on",
            target=("below", RSS_LIMIT_MIB),
        ),
    ]
    for name, (_, server) in EXIT_SERVERS.items():
        out += [
            Row(
                name,
                f"events at the sink when the process is gone, {sizes.exit:,} captured, {server}, "
                f"normal exit ({disk})",
                "events",
                "higher",
                "off",
                "on",
            ),
            Row(
                name,
                f"{server}: distinct events delivered in all, at exit then at a restart on the same "
                "spool (off: at exit only)",
                "events",
                "higher",
                "off",
                "on",
                metric="delivered_in_all",
                target=("all", sizes.exit),
            ),
            Row(
                name,
                f"{server}: arrivals repeating an event already delivered (exit + restart)",
                "events",
                "lower",
                "off",
                "on",
                metric="repeated_in_all",
                target=("zero", 0),
            ),
        ]
    return out


SECONDARY: Dict[str, List[Tuple[str, str]]] = {
    "overhead": [
        ("p50_us", "p50 µs"),
        ("p99_us", "p99 µs"),
        ("process_cpu_us_per_call", "process CPU µs/call (all threads, during the loop)"),
        ("delivered_pct", "% of the burst (incl. warm-up) at the sink afterwards"),
        ("spool_files_left", "spool files left when the run ended"),
    ],
    "throughput": [
        ("delivered", "events delivered"),
        ("capture_s", "capture loop (s)"),
        ("partial_rate", "events/s of an incomplete run (over what arrived)"),
        ("process_cpu_us_per_event", "process CPU µs/event (capture + delivery)"),
        ("requests_per_event", "requests per event"),
        ("sink_cpu_share", "sink CPU share of one core while receiving"),
        ("spool_files_left", "spool files left when the run ended"),
    ],
    "replay": [
        ("backlog_files", "backlog: spool files after the first process exited"),
        ("prepare_capture_s", "backlog: capture loop (s)"),
        ("prepare_write_lag_s", "backlog: last capture to all files on disk (s)"),
        ("first_arrival_s", "replay: client created to first arrival (s)"),
        ("delivered", "replay: events delivered"),
        ("unique_events", "replay: distinct event ids delivered"),
        ("repeated_events", "replay: arrivals repeating an id"),
        ("partial_rate", "replay: events/s of an incomplete run (over what arrived)"),
        ("spool_files_left", "replay: spool files left after the process exited"),
    ],
    "rss": [
        ("peak_growth_mib", "peak RSS growth (VmHWM, reset before the loop) MiB"),
        ("rss_growth_at_last_capture_mib", "RSS growth at the last capture MiB"),
        ("mean_us", "caller µs/call"),
        ("write_lag_s", "last capture to all events on disk (s)"),
        ("spool_files", "spool files after the loop"),
    ],
    "rss_paced": [
        ("peak_growth_mib", "peak RSS growth (VmHWM, reset before the loop) MiB"),
        ("rss_growth_at_last_capture_mib", "RSS growth at the last capture MiB"),
        ("write_lag_s", "last capture to all events on disk (s)"),
        ("spool_files", "spool files after the loop"),
    ],
    "exit": [
        ("delivered", "events at the sink when the process was gone"),
        ("exit_s", "last capture to process gone (s)"),
        ("spool_files_after_exit", "spool files after the exit"),
        ("delivered_in_all", "distinct events delivered in all (exit + restart)"),
        ("arrivals_in_all", "arrivals in all (exit + restart)"),
        ("repeated_in_all", "arrivals repeating an id already delivered"),
        ("restart_to_last_s", "restart: client created to last arrival (s)"),
        ("spool_files_left", "spool files left after the restart"),
    ],
}


# -- the runs --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    measurement: str
    rep: int
    variant: str
    event: str = "message"
    variants: List[str] = field(default_factory=list)


class SpoolBench:
    def __init__(
        self, args: argparse.Namespace, sink: run.Sink, refused: run.RefusedPort, logdir: str
    ) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.sink = sink
        self.refused = refused
        self.logdir = logdir
        self.dirs = SpoolDirs(args.disk_dir, args.tmpfs_dir)
        self.pythons = {CLIENT: args.python}
        # run.Runner reads stall, python and raven_ng_src from its arguments.
        self.runner_args = argparse.Namespace(
            stall=args.stall, python=args.python, raven_ng_src=args.raven_ng_src
        )
        self.runner = run.Runner(self.runner_args, self.pythons, sink, refused, logdir)
        self.env = run.child_env(CLIENT, args.raven_ng_src)
        self.counter = 0

    def variants(self, measurement: str) -> List[str]:
        if measurement == "replay":
            return ["on"]
        if measurement == "throughput":
            return ["off"] + (["on_tmpfs"] if "on_tmpfs" in self.dirs.bases else []) + ["on"]
        return ["off", "on"]

    def tag(self, name: str, variant: str, rep: int) -> str:
        self.counter += 1
        return f"spool-{name}-{variant}-{rep}-{self.counter}"

    def run(self, plan: Plan) -> Dict[str, Any]:
        t0 = time.monotonic()
        handler: Callable[[Plan], Dict[str, Any]] = getattr(self, "_" + plan.measurement)
        record = handler(plan)
        record.update(variant=plan.variant, rep=plan.rep, measurement=plan.measurement)
        record["duration_s"] = round(time.monotonic() - t0, 3)
        return record

    # helpers

    def scenario(self, name: str, kind: str, spool: Optional[str], **kw: Any) -> run.Scenario:
        return run.Scenario(
            name, name, kind, "", "lower", clients=(CLIENT,), options={CLIENT: options(spool)}, **kw
        )

    def child(
        self, spec: Dict[str, Any], tag: str, record: Dict[str, Any], body: Callable[[run.Child, float], None]
    ) -> None:
        """One spool_runner.py process: ``body(child, deadline)`` watches it; the child is always
        stopped afterwards (its watchdog ends it at ``spec["deadline"]`` anyway)."""
        t0 = time.monotonic()
        child = run.Child(
            self.args.python,
            spec,
            self.env,
            os.path.join(self.logdir, f"{tag}-{spec['kind']}.stderr"),
            SPOOL_RUNNER,
        )
        deadline = t0 + float(spec["deadline"]) + 15
        grace = 10.0
        try:
            body(child, deadline)
        except BaseException:
            grace = 0.5  # interrupted: do not wait for the child's own exit
            raise
        finally:
            code = child.finish(grace=grace)
            record.setdefault("children", []).append(
                {"kind": spec["kind"], "exit_code": code, "duration_s": round(time.monotonic() - t0, 3)}
            )
        if "ready" in child.seen:
            record["version"] = child.seen["ready"].get("version")
        first_error = child.first_error()
        if first_error and "first_error" not in record:
            record["first_error"] = first_error
        if "error" in child.seen and not record.get("error"):
            record["error"] = child.error()

    def finish_spool(self, record: Dict[str, Any], spool: Optional[str]) -> None:
        """Count what the run left in its spool directory, then remove it."""
        if spool:
            metrics = record.setdefault("metrics", {})
            metrics["spool_files_left"] = spool_files(spool)
            corrupt = corrupt_files(spool)
            if corrupt:
                metrics["spool_corrupt_files"] = corrupt
            shutil.rmtree(spool, ignore_errors=True)

    def replay_child(
        self, runner: run.Runner, spool: str, dsn: str, tag: str, target: int, out: Dict[str, Any]
    ) -> Dict[str, Any]:
        """A process that only starts a client on ``spool`` (``dsn`` as before), told to exit
        normally once the sink has ``target`` distinct events of ``tag`` and the spool directory is
        empty (or nothing changed for ``--stall`` s, or after ``--max-wait``). The figures go into
        ``out``; the sink's stats when ``target`` was first seen reached are returned ({} if never)."""
        spec = {
            "lib": CLIENT,
            "kind": "replay",
            "dsn": dsn,
            "deadline": self.args.max_wait + 60,
            "options": options(spool),
        }
        reached: Dict[str, Any] = {}

        def body(child: run.Child, deadline: float) -> None:
            started = child.wait_for("started", min(deadline, time.monotonic() + 60))
            if started is None:
                out["error"] = child.error() or "the replaying process did not start"
                return
            out["t_start"] = started["t_start"]
            limit = min(deadline, time.monotonic() + self.args.max_wait)
            reached.update(self.wait_delivered(runner.sink, tag, target, child, spool, limit))
            out["waited_s"] = time.monotonic() - started["t_start"]
            child.tell("exit\n")
            result = child.wait_for("result", min(deadline, time.monotonic() + 15))
            if result is not None:
                out["delivery_stats"] = result.get("delivery_stats")
                out["spool_files_at_exit_request"] = result.get("spool_files")
            settled: Dict[str, Any] = {}
            runner.exited(child, tag, deadline, settled)
            out["sink"] = settled.get("sink", {})
            if settled.get("error"):
                out["error"] = "the replaying process " + settled["error"]

        self.child(spec, tag, out, body)
        return reached

    def wait_delivered(
        self, sink: run.Sink, tag: str, target: int, child: run.Child, spool: str, limit: float
    ) -> Dict[str, Any]:
        """Poll until ``target`` distinct events of ``tag`` arrived and ``spool`` holds no file, or
        neither the arrivals nor the files changed for ``--stall`` s, or ``limit``, or the child is
        gone: the sink's stats when ``target`` was first seen reached ({} if it never was)."""
        reached: Dict[str, Any] = {}
        state: Tuple[int, int] = (-1, -1)
        changed = time.monotonic()
        while time.monotonic() < limit:
            child.pump()
            if "error" in child.seen or child.eof:
                break
            stats = sink.stats(tag)
            files = spool_files(spool)
            if not reached and stats.get("unique_events", stats.get("events", 0)) >= target:
                reached = stats
            now = time.monotonic()
            if (stats.get("events", 0), files) != state:
                state, changed = (stats.get("events", 0), files), now
            if reached and files == 0:
                break
            if now - changed > self.args.stall:
                break  # nothing moves: what is not delivered waits (or is lost)
            time.sleep(0.1)
        return reached

    @staticmethod
    def take_in_all(metrics: Dict[str, Any], stats: Dict[str, Any]) -> None:
        """Distinct events delivered (the sink's id count), arrivals, and arrivals repeating an id."""
        metrics["arrivals_in_all"] = stats.get("events", 0)
        metrics["delivered_in_all"] = stats.get("unique_events", stats.get("events", 0))
        if "repeated_events" in stats:
            metrics["repeated_in_all"] = stats["repeated_events"]

    # measurements

    def _overhead(self, plan: Plan) -> Dict[str, Any]:
        tag = self.tag(f"overhead_{plan.event}", plan.variant, plan.rep)
        spool = self.dirs.fresh(plan.variant, tag)
        sc = self.scenario(
            f"overhead_{plan.event}_{plan.variant}",
            "overhead",
            spool,
            mode="ok",
            event=plan.event,
            n=self.sizes.overhead,
            warmup=self.sizes.warmup,
            deadline=self.args.max_wait + 60,
        )
        record = self.runner.run(sc, CLIENT, plan.rep)
        self.finish_spool(record, spool)
        return record

    def _overhead_message(self, plan: Plan) -> Dict[str, Any]:
        return self._overhead(plan)

    def _overhead_exception(self, plan: Plan) -> Dict[str, Any]:
        return self._overhead(plan)

    def _throughput(self, plan: Plan) -> Dict[str, Any]:
        tag = self.tag("throughput", plan.variant, plan.rep)
        spool = self.dirs.fresh(plan.variant, tag)
        sc = self.scenario(
            f"throughput_{plan.variant}",
            "throughput",
            spool,
            n=self.sizes.throughput,
            deadline=self.args.max_wait + 30,
        )
        record = self.runner.run(sc, CLIENT, plan.rep)
        if record.get("incomplete"):
            delivered = (record.get("metrics") or {}).get("delivered", 0)
            record["incomplete"] = f"{delivered:,} of {self.sizes.throughput:,} delivered"
            if record.get("value") is not None:
                # A rate over part of the events is not "until the sink has all N".
                record.setdefault("metrics", {})["partial_rate"] = record["value"]
                record["value"] = None
        self.finish_spool(record, spool)
        return record

    def _rss_paced(self, plan: Plan) -> Dict[str, Any]:
        return self._rss(plan, PACED_RATE)

    def _rss(self, plan: Plan, rate: Optional[float] = None) -> Dict[str, Any]:
        tag = self.tag(plan.measurement, plan.variant, plan.rep)
        spool = self.dirs.fresh(plan.variant, tag)
        record: Dict[str, Any] = {"client": CLIENT, "tag": tag, "value": None}
        spec = {
            "lib": CLIENT,
            "kind": "rss",
            "dsn": f"http://benchkey@127.0.0.1:{self.refused.port}/down/{tag}/1",
            "n": self.sizes.rss,
            "warmup": 100,
            "settle_s": 1.0,
            "write_limit_s": 60,
            "deadline": 180,
            "options": options(spool),
            "rate": rate,
        }

        def body(child: run.Child, deadline: float) -> None:
            res = child.wait_for("result", deadline)
            if res is None:
                record["error"] = child.error() or "no result before the deadline"
                return
            record["value"] = res["rss_growth_mib"]
            keys = (
                "peak_growth_mib",
                "rss_growth_at_last_capture_mib",
                "mean_us",
                "write_lag_s",
                "spool_files",
            )
            record["metrics"] = {k: res[k] for k in keys if res.get(k) is not None}
            record["metrics"].update(rss_before_mib=res["rss_before_mib"], rss_after_mib=res["rss_after_mib"])
            record["delivery_stats"] = res.get("delivery_stats")

        self.child(spec, tag, record, body)
        self.finish_spool(record, spool)
        return record

    def _replay(self, plan: Plan) -> Dict[str, Any]:
        n = self.sizes.backlog
        tag = self.tag("replay", plan.variant, plan.rep)
        spool = self.dirs.fresh(plan.variant, tag)
        assert spool is not None
        record: Dict[str, Any] = {"client": CLIENT, "tag": tag, "value": None}
        metrics: Dict[str, Any] = {}
        record["metrics"] = metrics
        # The server's address is the same before and after: a spool file belongs to its DSN.
        down = run.RefusedPort()
        dsn = f"http://benchkey@127.0.0.1:{down.port}/ok/{tag}/1"
        replay_sink: Optional[run.Sink] = None
        try:
            spec = {
                "lib": CLIENT,
                "kind": "prepare",
                "dsn": dsn,
                "n": n,
                "write_limit_s": 120,
                "deadline": 240,
                "options": options(spool),
            }

            def prepare(child: run.Child, deadline: float) -> None:
                prepared = child.wait_for("prepared", deadline)
                if prepared is None:
                    record["error"] = child.error() or "the backlog was not prepared"
                    return
                metrics["prepare_capture_s"] = prepared["capture_s"]
                metrics["prepare_write_lag_s"] = prepared["write_lag_s"]
                record["prepare_delivery_stats"] = prepared.get("delivery_stats")
                t_prepared = time.monotonic()
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    record["error"] = "the backlog's process did not exit"
                metrics["prepare_exit_s"] = time.monotonic() - t_prepared

            self.child(spec, tag, record, prepare)
            metrics["backlog_files"] = spool_files(spool)
            if record.get("error"):
                return record
            if metrics["backlog_files"] != n:
                record["note"] = (
                    f"the backlog has {metrics['backlog_files']:,} files for {n:,} events captured"
                )
            # The server comes back on the same port.
            down.close()
            try:
                replay_sink = run.Sink(self.args.python, port=down.port, extra_args=("--track-ids",))
            except SystemExit as e:  # run.Sink says so when the sink did not start (port taken meanwhile)
                record["error"] = f"no sink on port {down.port}: {e}"
                return record
            runner = run.Runner(self.runner_args, self.pythons, replay_sink, self.refused, self.logdir)
            out: Dict[str, Any] = {}
            reached = self.replay_child(runner, spool, dsn, tag, n, out)
            self.take_replay(record, out, reached, n)
        finally:
            down.close()
            if replay_sink is not None:
                replay_sink.stop()
            self.finish_spool(record, spool)
        return record

    def take_replay(
        self, record: Dict[str, Any], out: Dict[str, Any], reached: Dict[str, Any], n: int
    ) -> None:
        metrics = record["metrics"]
        final = out.get("sink") or reached
        record["sink"] = final
        record["delivery_stats"] = out.get("delivery_stats")
        if out.get("error"):
            record["error"] = out["error"]
        t_start = out.get("t_start")
        delivered = final.get("events", 0)
        metrics["delivered"] = delivered
        if "unique_events" in final:
            metrics["unique_events"] = final["unique_events"]
            metrics["repeated_events"] = final["repeated_events"]
        if t_start is not None and final.get("first_event"):
            metrics["first_arrival_s"] = final["first_event"] - t_start
        record["exactly_once"] = delivered == n and metrics.get("unique_events", n) == n
        if not reached:
            record["incomplete"] = f"{metrics.get('unique_events', delivered):,} of {n:,} delivered"
        if t_start is None:
            return
        last = (reached or final).get("last_event")
        if not last or last <= t_start:
            return
        if reached:
            record["value"] = n / (last - t_start)
        else:
            metrics["partial_rate"] = metrics.get("unique_events", delivered) / (last - t_start)

    def _exit_healthy(self, plan: Plan) -> Dict[str, Any]:
        return self._exit(plan)

    def _exit(self, plan: Plan) -> Dict[str, Any]:
        """Capture, exit normally (the sink counts what arrived), then, with the spool, a restart on
        the same directory and DSN, the server now answering at once: what arrives in all."""
        n = self.sizes.exit
        mode = EXIT_SERVERS[plan.measurement][0]
        tag0 = self.tag(plan.measurement, plan.variant, plan.rep)
        spool = self.dirs.fresh(plan.variant, tag0)
        sc = self.scenario(f"{plan.measurement}_{plan.variant}", "exit", spool, mode=mode, n=n, deadline=60)
        record = self.runner.run(sc, CLIENT, plan.rep)
        metrics = record.setdefault("metrics", {})
        self.take_in_all(metrics, record.get("sink") or {})
        if spool is None or record.get("error"):
            self.finish_spool(record, spool)
            return record
        try:
            metrics["spool_files_after_exit"] = spool_files(spool)
            # The restart: same DSN (so the same spool files), and the server now answers at once.
            tag = record["tag"]
            self.sink.get(f"/_mode/{tag}/ok")
            out: Dict[str, Any] = {}
            reached = self.replay_child(self.runner, spool, self.runner.dsn(sc, tag), tag, n, out)
            final = out.get("sink") or reached
            record["sink_after_restart"] = final
            record["restart_delivery_stats"] = out.get("delivery_stats")
            if out.get("error"):
                record["error"] = out["error"]
            self.take_in_all(metrics, final)
            last = final.get("last_event")
            if out.get("t_start") is not None and last and last > out["t_start"]:
                metrics["restart_to_last_s"] = last - out["t_start"]
            if metrics["delivered_in_all"] < n:
                record["incomplete"] = f"{metrics['delivered_in_all']:,} of {n:,} delivered in all"
        finally:
            self.finish_spool(record, spool)
        return record


# -- summary and table ---------------------------------------------------------------------------------


def value_of(record: Dict[str, Any], metric: Optional[str]) -> Optional[float]:
    if metric is None:
        return record.get("value")
    value = (record.get("metrics") or {}).get(metric)
    return value if isinstance(value, (int, float)) else None


def summarize_row(row: Row, runs: List[Dict[str, Any]], reps: int) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "measurement": row.measurement,
        "title": row.title,
        "unit": row.unit,
        "better": row.better,
        "off_variant": row.off,
        "on_variant": row.on,
        "metric": row.metric,
        "target": list(row.target),
    }
    for side, variant in (("off", row.off), ("on", row.on)):
        if variant is None:
            out[side] = None
            continue
        mine = [r for r in runs if r.get("variant") == variant]
        summary = run.summarize([v for v in (value_of(r, row.metric) for r in mine) if v is not None])
        summary["runs"] = len(mine)
        summary["planned"] = reps
        summary["errors"] = sum(1 for r in mine if r.get("error"))
        summary["incomplete"] = [r["incomplete"] for r in mine if r.get("incomplete")]
        if row.measurement == "replay":
            summary["exactly_once"] = sum(1 for r in mine if r.get("exactly_once"))
        out[side] = summary
    off = (out.get("off") or {}).get("median")
    on = (out.get("on") or {}).get("median")
    out["ratio"] = on / off if on is not None and off else None
    out["met"] = target_met(row, out)
    return out


def target_met(row: Row, summary: Dict[str, Any]) -> Optional[bool]:
    on = summary.get("on") or {}
    if not row.target or not on.get("runs"):
        return None
    kind, limit = row.target
    ratio = summary.get("ratio")
    if kind == "ratio":
        if on.get("incomplete") or on.get("errors"):
            return False  # a run that did not deliver everything misses it, whatever the others did
        if ratio is None:
            return None
        return ratio <= limit if row.better == "lower" else ratio >= limit
    if kind == "below":
        return on.get("median") is not None and on["median"] < limit and not on.get("errors")
    if kind == "all":  # every repetition delivered them all
        return on.get("min") is not None and on["min"] >= limit and on.get("count") == on["runs"]
    if kind == "once":  # every repetition complete, each event exactly once
        return on.get("exactly_once") == on["runs"]
    if kind == "zero":  # in no repetition
        return on.get("max") == 0 and on.get("count") == on["runs"]
    return None


def target_text(row: Row) -> str:
    if not row.target:
        return ""
    kind, limit = row.target
    if kind == "ratio":
        return ("on ≤ " if row.better == "lower" else "on ≥ ") + f"{limit:.2f}× off"
    if kind == "below":
        return f"on < {limit:g} MiB"
    if kind == "all":
        return f"all {limit:,}"
    if kind == "zero":
        return "none"
    return f"all {limit:,}, each once"


def cell(summary: Optional[Dict[str, Any]]) -> str:
    if summary is None:
        return "n/a"
    if not summary.get("runs"):
        return "–"
    text = report.fmt(summary.get("median")) if summary.get("median") is not None else ""
    if summary.get("count", 0) > 1:
        text += " ({}–{})".format(report.fmt(summary["min"]), report.fmt(summary["max"]))
    notes = []
    if summary.get("incomplete"):
        counted = collections.Counter(summary["incomplete"])
        what = "; ".join(text + (f" (×{k})" if k > 1 else "") for text, k in counted.items())
        notes.append("{} of {} incomplete: {}".format(len(summary["incomplete"]), summary["runs"], what))
    if summary.get("errors"):
        notes.append(f"{summary['errors']} err")
    if summary.get("planned") and summary["runs"] < summary["planned"]:
        notes.append(f"{summary['runs']} of {summary['planned']} runs")
    if notes:
        text += (" " if text else "") + "[" + "; ".join(notes) + "]"
    return text or "–"


def render(results: Dict[str, Any]) -> str:
    m = results.get("machine", {})
    ng = results.get("raven_ng", {})
    cfg = results.get("config", {})
    lines = [
        "### raven-ng durable spool: off vs on ({}{})".format(
            results.get("date", "?"), ", quick sizes" if cfg.get("quick") else ""
        ),
        "",
        "{} ({} cores), Python {}, {}; raven-ng {}{} from {}; repetitions: {}, interleaved; load average "
        "{} at start, {} at end; {:.0f} s in all.".format(
            m.get("cpu", "?"),
            m.get("cores", "?"),
            m.get("python", "?"),
            m.get("platform", "?"),
            ng.get("commit", "?"),
            " (src/ modified)" if ng.get("dirty") else "",
            ng.get("src", "?"),
            cfg.get("reps", "?"),
            " ".join(f"{x:.2f}" for x in m.get("loadavg_start", [])),
            " ".join(f"{x:.2f}" for x in m.get("loadavg_end", [])),
            results.get("elapsed_s", 0),
        ),
        "Spool directories: "
        + "; ".join(
            f"{VARIANT_TITLES[v]}: {fs_label(info)}" for v, info in results.get("filesystems", {}).items()
        )
        + ".",
        "",
        "| measurement | unit | spool off | spool on | on ÷ off | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.get("rows", []):
        ratio = row.get("ratio")
        ratio_text = "–" if ratio is None else (f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×")
        met = row.get("met")
        target = row.get("target_text", "")
        if target and met is not None:
            target += " ✓" if met else " ✗"
        off = "n/a (nothing is kept)" if row.get("off_variant") is None else cell(row.get("off"))
        lines.append(
            f"| {row['title']} | {row['unit']} | {off} | {cell(row.get('on'))} | {ratio_text} | {target} |"
        )
    lines += ["", "Secondary figures (median, min–max):", ""]
    variants = [
        v for v in VARIANT_TITLES if any(v in x.get("variants", {}) for x in results["measurements"].values())
    ]
    lines.append("| measurement | figure | " + " | ".join(VARIANT_TITLES[v] for v in variants) + " |")
    lines.append("|---|---|" + "---|" * len(variants))
    for name, measured in results.get("measurements", {}).items():
        for key, label in SECONDARY.get(name.split("_")[0], []):
            cells = []
            for v in variants:
                s = (measured.get("variants", {}).get(v) or {}).get("metrics", {}).get(key)
                cells.append(cell(dict(s, runs=s["count"])) if s and s.get("count") else "–")
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    problems = results.get("problems", [])
    if problems:
        lines += ["", "Problems seen:", ""] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n"


def summarize_measurement(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"variants": {}, "runs": runs}
    for variant in sorted({r.get("variant") for r in runs}):
        mine = [r for r in runs if r.get("variant") == variant]
        keys = sorted(
            {k for r in mine for k, v in (r.get("metrics") or {}).items() if isinstance(v, (int, float))}
        )
        out["variants"][variant] = {
            "value": run.summarize([r["value"] for r in mine if r.get("value") is not None]),
            "metrics": {
                k: run.summarize([r["metrics"][k] for r in mine if k in (r.get("metrics") or {})])
                for k in keys
            },
        }
    return out


def problems(runs: Dict[str, List[Dict[str, Any]]]) -> List[str]:
    """What a reader must not miss: errors, incomplete deliveries, repeats, files left behind."""
    out: List[str] = []
    for name, mine in runs.items():
        for r in mine:
            variant = VARIANT_TITLES.get(r.get("variant", ""), r.get("variant"))
            where = f"{name}, {variant}, rep {r.get('rep', 0) + 1}"
            metrics = r.get("metrics") or {}
            if r.get("error"):
                out.append(f"{where}: error: {r['error']}")
            if r.get("incomplete"):
                left = metrics.get("spool_files_left")
                out.append(
                    f"{where}: incomplete, {r['incomplete']} (nothing new for the stall time or the wait "
                    f"limit reached)" + (f"; {left:,} files still in the spool" if left else "")
                )
            repeated = metrics.get("repeated_events") or metrics.get("repeated_in_all")
            if repeated:
                out.append(f"{where}: {repeated:,} arrivals repeated an event id already delivered")
            if r.get("note"):
                out.append(f"{where}: {r['note']}")
            if metrics.get("spool_corrupt_files"):
                out.append(f"{where}: {metrics['spool_corrupt_files']} files moved to corrupt/")
    return out


# -- main ------------------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small sizes and 2 repetitions (about a minute or two)"
    )
    ap.add_argument("--reps", type=int, help="repetitions per measurement and variant (default 5, quick 2)")
    ap.add_argument("--only", help="comma-separated subset of: " + ", ".join(MEASUREMENTS))
    ap.add_argument(
        "--out", help="results JSON (default bench/results/spool-<UTC date>.json); the table goes next to it"
    )
    venv = os.path.join(REPO, ".venv", "bin", "python")
    ap.add_argument(
        "--python",
        default=venv if os.path.exists(venv) else sys.executable,
        help="the interpreter of every child (default: the repo's .venv)",
    )
    ap.add_argument(
        "--raven-ng-src", default=REPO, help="the raven-ng checkout to measure (default: this repo)"
    )
    ap.add_argument(
        "--disk-dir", default=tempfile.gettempdir(), help="where the on-disk spools go (default: %(default)s)"
    )
    ap.add_argument(
        "--tmpfs-dir",
        default="/dev/shm",
        help="where the tmpfs spools go (default: %(default)s; skipped if missing)",
    )
    ap.add_argument(
        "--stall",
        type=float,
        default=5.0,
        help="give up waiting for deliveries when nothing new arrived for this long (s; default %(default)s)",
    )
    ap.add_argument(
        "--max-wait",
        type=float,
        help="give up waiting for deliveries after this long (s; default 90, quick 30)",
    )
    ap.add_argument(
        "--max-minutes",
        type=float,
        help="do not start a run that would end after this long (by its last duration; default 5, quick 3)",
    )
    ap.add_argument("--keep-logs", action="store_true", help="keep the children's stderr files")
    args = ap.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    if args.max_wait is None:
        args.max_wait = 30.0 if args.quick else 90.0
    if args.max_minutes is None:
        args.max_minutes = 3.0 if args.quick else 5.0
    args.raven_ng_src = os.path.abspath(args.raven_ng_src)
    args.only = [x.strip() for x in (args.only or ",".join(MEASUREMENTS)).split(",") if x.strip()]
    unknown = [x for x in args.only if x not in MEASUREMENTS]
    if unknown:
        ap.error("unknown measurement(s): " + ", ".join(unknown))
    return args


def make_plan(bench: SpoolBench, chosen: List[str], reps: int) -> List[Plan]:
    """One repetition of every measurement, then the next (so that a time budget that runs out
    leaves fewer repetitions of each, not none of the last ones); within a measurement its variants
    back to back, the order alternating every repetition (off, on, on, off, ...) so that a drift in
    the machine's load hits both alike."""
    plan: List[Plan] = []
    for rep in range(reps):
        for measurement in chosen:
            names = ["overhead_message", "overhead_exception"] if measurement == "overhead" else [measurement]
            for name in names:
                variants = bench.variants(measurement)
                order = variants if rep % 2 == 0 else variants[::-1]
                for variant in order:
                    event = "exception" if name == "overhead_exception" else "message"
                    plan.append(Plan(name, rep, variant, event, variants))
    return plan


def src_fingerprint(repo: str) -> str:
    """The checkout's commit and a hash of its uncommitted changes under ``src/`` (to tell whether
    the code measured changed during the run)."""
    import hashlib

    digest = hashlib.sha1()
    for args in (["rev-parse", "HEAD"], ["diff", "HEAD", "--", "src"], ["ls-files", "--others", "--", "src"]):
        proc = subprocess.run(["git", "-C", repo] + args, capture_output=True)
        digest.update(proc.stdout)
    return digest.hexdigest()[:12]


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc)
    out_path = args.out or os.path.join(
        BENCH_DIR, "results", "spool-" + date.strftime("%Y-%m-%dT%H%M%SZ") + ".json"
    )
    logdir = tempfile.mkdtemp(prefix="raven-ng-spool-bench-logs-")
    version, why = run.probe(CLIENT, args.python, args.raven_ng_src)
    if version is None:
        raise SystemExit(f"raven-ng does not import with {args.python}: {why}")
    results: Dict[str, Any] = {
        "schema": 1,
        "suite": "spool",
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": run.machine_info(args.python),
        "versions": {CLIENT: version},
        "raven_ng": dict(
            run.git_info(args.raven_ng_src),
            src=args.raven_ng_src,
            fingerprint=src_fingerprint(args.raven_ng_src),
        ),
        "config": {
            "quick": args.quick,
            "reps": args.reps,
            "argv": sys.argv[1:] if argv is None else argv,
            "stall_s": args.stall,
            "max_wait_s": args.max_wait,
            "python": args.python,
        },
    }
    runs: Dict[str, List[Dict[str, Any]]] = {}
    sink: Optional[run.Sink] = None
    refused = run.RefusedPort()
    bench: Optional[SpoolBench] = None
    try:
        sink = run.Sink(args.python, extra_args=("--track-ids",))
        bench = SpoolBench(args, sink, refused, logdir)
        results["sizes"] = vars(bench.sizes)
        results["filesystems"] = bench.dirs.info
        plan = make_plan(bench, args.only, args.reps)
        log(f"{len(plan)} runs ({', '.join(args.only)}); spool dirs {bench.dirs.bases}; logs {logdir}")
        took: Dict[Tuple[str, str], float] = {}  # the last duration of each (measurement, variant)
        for i, step in enumerate(plan, 1):
            if sink.proc.poll() is not None:
                raise RuntimeError(f"the sink exited (code {sink.proc.returncode})")
            expected = took.get((step.measurement, step.variant), 0.0)
            if time.monotonic() - started + expected > args.max_minutes * 60:
                log(
                    f"time budget of {args.max_minutes:g} min used up: {len(plan) - i + 1} of {len(plan)} "
                    f"runs not done (--max-minutes)"
                )
                results["config"]["truncated"] = f"{i - 1} of {len(plan)} runs done"
                break
            record = bench.run(step)
            took[(step.measurement, step.variant)] = record["duration_s"]
            runs.setdefault(step.measurement, []).append(record)
            shown = record.get("error") or report.fmt(record.get("value"))
            if record.get("incomplete"):
                shown += f" ({record['incomplete']})"
            log(
                f"[{i}/{len(plan)}] {step.measurement} rep {step.rep + 1} {step.variant}: {shown} "
                f"({record['duration_s']:.1f}s)"
            )
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
        results["config"]["interrupted"] = True
    except Exception as e:  # e.g. the sink died: keep what was measured
        log(f"aborted: {e!r}: writing what was measured")
        results["config"]["aborted"] = repr(e)
    finally:
        if sink is not None:
            sink.stop()
        refused.close()
        run.stop_all()
        if bench is not None:
            bench.dirs.close()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)

    results["measurements"] = {name: summarize_measurement(mine) for name, mine in runs.items()}
    table_rows = []
    if bench is not None:
        for row in rows(bench.sizes, bench.dirs):
            mine = runs.get(row.measurement)
            if mine:
                summary = summarize_row(row, mine, args.reps)
                summary["target_text"] = target_text(row)
                table_rows.append(summary)
    results["rows"] = table_rows
    results["problems"] = problems(runs)
    end_info = dict(run.git_info(args.raven_ng_src), fingerprint=src_fingerprint(args.raven_ng_src))
    results["raven_ng"]["at_end"] = end_info
    if end_info["fingerprint"] != results["raven_ng"]["fingerprint"]:
        results["problems"].insert(
            0,
            "the code measured changed during the run (src/ at commit {} at the start, {} at the end, "
            "uncommitted changes included): the runs do not all measure the same code".format(
                results["raven_ng"]["commit"], end_info["commit"]
            ),
        )
    if results["config"].get("truncated"):
        results["problems"].insert(0, "time budget used up: " + results["config"]["truncated"])
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, default=repr)
    table = render(results)
    with open(os.path.splitext(out_path)[0] + ".md", "w") as f:
        f.write(table)
    sys.stdout.write(table)
    log("results: {} ({:.0f} s)".format(out_path, results["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
