"""The caller's overhead of raven-ng's default path, this checkout against an earlier commit.

    python3 bench/before_after.py REV [--rounds 8] [--n 2000]

A change to the client must not slow down what users run by default: ``Client(dsn)`` (threaded
transport) and ``captureMessage`` / ``captureException``, nothing overridden. This script checks
out ``REV`` into a temporary git worktree, starts the loopback sink (``sink.py``) once, and runs
the two checkouts alternately (before, after, before, after ...) in fresh interpreters, each
timing ``n`` captures after a warm-up against the healthy sink. It prints the median (and the
range) of each, and after / before. Standard library only; the worktree is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

CHILD = r"""
import gc, sys, time
sys.path.insert(0, sys.argv[1])
import raven
from raven.transport.threaded import ThreadedHTTPTransport

client = raven.Client(sys.argv[2], transport=ThreadedHTTPTransport)
n = int(sys.argv[3])


def message(i):
    client.captureMessage("Benchmark message: %d" % i)


def descend(depth, i):
    local_number, local_text, local_list = i, "text %d" % i, [1, "two", 3.0]
    if depth:
        return descend(depth - 1, i)
    raise ValueError("benchmark %d" % i)


kept = []


def exception(i):
    try:
        descend(9, i)
    except ValueError as exc:
        kept.append(exc)  # raven skips an exception whose id() it has seen: keep them alive
        client.captureException()


for kind in (message, exception):
    for i in range(200):
        kind(i)
    gc.collect()
    started = time.perf_counter()
    for i in range(n):
        kind(i)
    print("%s %.3f" % (kind.__name__, (time.perf_counter() - started) / n * 1e6))
client.close(10)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the earlier commit (before)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()

    sink = subprocess.Popen(
        [sys.executable, os.path.join(BENCH_DIR, "sink.py"), "--port", "0", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    worktree = tempfile.mkdtemp(prefix="raven-ng-before-")
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline().split()[1])
        add = ["git", "-C", REPO, "worktree", "add", "-q", "--detach", worktree, args.rev]
        subprocess.run(add, check=True)
        trees = {"before": os.path.join(worktree, "src"), "after": os.path.join(REPO, "src")}
        results: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.rounds):
            for which, src in trees.items():
                dsn = f"http://benchkey@127.0.0.1:{port}/ok/{which}{round_}/1"
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, src, dsn, str(args.n)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                )
                for line in out.stdout.splitlines():
                    kind, value = line.split()
                    results.setdefault((kind, which), []).append(float(value))
        print(f"caller overhead, default path, {args.rounds} alternated runs of {args.n} captures (µs/call)")
        print(f"before = {args.rev}, after = this checkout")
        for kind in ("message", "exception"):
            before, after = results[(kind, "before")], results[(kind, "after")]
            mb, ma = statistics.median(before), statistics.median(after)
            print(
                f"  capture{kind.capitalize()}: before {mb:.1f} ({min(before):.1f}-{max(before):.1f}), "
                f"after {ma:.1f} ({min(after):.1f}-{max(after):.1f}), after/before {ma / mb:.2f}"
            )
        return 0
    finally:
        if sink.stdin is not None:
            sink.stdin.close()
        sink.wait(10)
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", worktree], check=False)


if __name__ == "__main__":
    sys.exit(main())
