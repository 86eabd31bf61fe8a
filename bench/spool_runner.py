"""The spool benchmark's own runs inside one raven-ng process (started by bench/spool.py; stdlib only).

    python bench/spool_runner.py '<json spec>'

The runs bench/run.py also has (caller overhead, throughput, exit) go through client_runner.py
unchanged, with ``spool_dir`` among the client's options. This script has the three that need the
spool directory itself; it reuses client_runner's adapter (``raven.Client(dsn,
transport=ThreadedHTTPTransport, **options)``), watchdog and ``@@BENCH`` lines:

- ``rss``: RSS growth over ``n`` messages captured into a server that is down, measured once the
  spool's thread has written them (the spool directory holds them all, or stopped growing), after
  at least ``settle_s`` in any case;
- ``prepare``: capture ``n`` messages into a server that is down, wait until all of them are files
  in the spool directory, then exit normally (the backlog of the ``replay`` run);
- ``replay``: start a client on an existing spool directory and do nothing else: the spool sends
  what waits there; the driver watches the sink and says "exit" on stdin.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from typing import Any, Dict, Optional, Tuple

from client_runner import Adapter, emit, rss_growth, rss_kib, start_watchdog

SUFFIX = ".envelope"  # raven._delivery.spool.SUFFIX (not imported: this file must not shape raven)


def spool_files(path: Optional[str]) -> int:
    """Spool files waiting in ``path`` (its top level only; ``corrupt/`` excluded)."""
    if not path:
        return 0
    try:
        with os.scandir(path) as entries:
            return sum(1 for e in entries if e.name.endswith(SUFFIX) and e.is_file(follow_symlinks=False))
    except OSError:
        return 0


def wait_for_files(path: str, want: int, quiet: float, limit: float) -> Tuple[int, float]:
    """Poll until ``path`` holds ``want`` spool files, or their number has not changed for ``quiet``
    seconds, or ``limit`` seconds have passed: (files, seconds waited)."""
    t0 = time.monotonic()
    count, changed = -1, t0
    while True:
        now = time.monotonic()
        found = spool_files(path)
        if found != count:
            count, changed = found, now
        if count >= want or now - changed >= quiet or now - t0 >= limit:
            return count, now - t0
        time.sleep(0.05)


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``5`` into ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_rss(spec: Dict[str, Any], ad: Adapter) -> None:
    n, warmup = int(spec["n"]), int(spec.get("warmup", 0))
    spool_dir = (spec.get("options") or {}).get("spool_dir")
    settle = float(spec.get("settle_s", 1.0))
    for _ in range(warmup):
        ad.one("message")
    # The warm-up's events on disk too, so that the measured loop starts from a quiet spool.
    if spool_dir:
        wait_for_files(spool_dir, warmup, quiet=2.0, limit=30.0)
    gc.collect()
    peak_reset = reset_peak_rss()
    before = rss_kib()
    total = 0.0
    rate = spec.get("rate")
    started = time.monotonic()
    for i in range(n):
        if rate:  # paced: capture i is due at i / rate seconds
            ahead = started + i / float(rate) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        total += ad.one("message")
    t_captured = time.monotonic()
    during = rss_kib()
    files, waited = 0, 0.0
    if spool_dir:
        files, waited = wait_for_files(
            spool_dir, n + warmup, quiet=3.0, limit=float(spec.get("write_limit_s", 60))
        )
    left = settle - (time.monotonic() - t_captured)
    if left > 0:
        time.sleep(left)
    gc.collect()
    after = rss_kib()
    emit(
        phase="result",
        n=n,
        **rss_growth(before, after, peak=peak_reset),
        rss_growth_at_last_capture_mib=(during["VmRSS"] - before["VmRSS"]) / 1024.0,
        mean_us=total / n * 1e6,
        spool_files=files if spool_dir else None,
        write_lag_s=waited if spool_dir else None,
        delivery_stats=ad.delivery_stats(),
    )


def run_prepare(spec: Dict[str, Any], ad: Adapter) -> None:
    n = int(spec["n"])
    spool_dir = spec["options"]["spool_dir"]
    t_first = time.monotonic()
    for _ in range(n):
        ad.one("message")
    t_captured = time.monotonic()
    files, waited = wait_for_files(spool_dir, n, quiet=5.0, limit=float(spec.get("write_limit_s", 120)))
    emit(
        phase="prepared",
        n=n,
        capture_s=t_captured - t_first,
        write_lag_s=waited,
        spool_files=files,
        delivery_stats=ad.delivery_stats(),
    )
    # A normal exit: the client closes as an application's would, its files stay for the next start.


def run_replay(spec: Dict[str, Any], t_start: float, ad: Adapter) -> None:
    spool_dir = spec["options"]["spool_dir"]
    emit(phase="started", t_start=t_start, init_s=time.monotonic() - t_start)
    sys.stdin.readline()  # the driver says when the sink has them all (or it gave up waiting)
    emit(phase="result", spool_files=spool_files(spool_dir), delivery_stats=ad.delivery_stats())
    # A normal exit: what was not sent stays on disk.


def main() -> None:
    spec = json.loads(sys.argv[1])
    start_watchdog(float(spec.get("deadline", 60)))
    emit(phase="start", python=sys.version.split()[0], pid=os.getpid())
    kind = spec["kind"]
    try:
        t_start = time.monotonic()
        ad = Adapter(spec)
        emit(phase="ready", version=ad.version, module_file=ad.module_file, init_s=time.monotonic() - t_start)
        if kind == "rss":
            run_rss(spec, ad)
            os._exit(0)  # the exit is not what this run measures
        elif kind == "prepare":
            run_prepare(spec, ad)
        elif kind == "replay":
            run_replay(spec, t_start, ad)
        else:
            raise SystemExit(f"unknown kind {kind!r}")
    except BaseException as e:
        if isinstance(e, SystemExit) and not e.code:
            raise
        traceback.print_exc()
        emit(phase="error", error=f"{type(e).__name__}: {e}")
        os._exit(1)


if __name__ == "__main__":
    main()
