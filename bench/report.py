"""Render the markdown performance table from a results JSON written by bench/run.py (stdlib only).

    python bench/report.py bench/results/<date>.json [--out table.md]

The output is what goes into the README's performance section: a header with the date, machine and
versions, the main table (median and min-max per client, and raven-ng divided by the better peer),
the machine's floor, and a table of secondary figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Tuple

CLIENT_LABELS = {"raven-ng": "raven-ng", "raven": "raven 6.10", "sentry-sdk": "sentry-sdk"}

# The per-transport table's rows: transport name (client_runner.TRANSPORTS) -> the loop family it runs in.
TRANSPORT_ROWS = {
    "sync": "none",
    "threaded": "none",
    "requests": "none",
    "threaded_requests": "none",
    "gevent": "gevent",
    "eventlet": "eventlet",
    "tornado": "tornado",
    "twisted": "twisted",
    "asyncio": "asyncio",
}


def fmt(value: Optional[float]) -> str:
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(summary: Optional[Dict[str, Any]]) -> str:
    if not summary:
        return "n/a"
    if summary.get("median") is None:
        return "error" if summary.get("errors") else "n/a"
    text = fmt(summary["median"])
    if summary.get("count", 0) > 1:
        text += " ({}–{})".format(fmt(summary["min"]), fmt(summary["max"]))
    if summary.get("errors"):
        text += f" [{summary['errors']} err]"
    if summary.get("incomplete"):
        text += f" [{summary['incomplete']} incomplete]"
    return text


def ratio_cell(scenario: Dict[str, Any]) -> str:
    ratio = scenario.get("ratio")
    if ratio is None:
        return "–"
    better = scenario.get("better", "lower")
    good = ratio < 1 if better == "lower" else ratio > 1
    text = f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"
    return text + (" ✓" if good else "")


def target_cell(scenario: Dict[str, Any]) -> str:
    target = scenario.get("target")
    if target is None:
        return ""
    return ("≤ " if scenario.get("better") == "lower" else "≥ ") + f"{float(target):g}×"


def header(results: Dict[str, Any]) -> List[str]:
    m = results.get("machine", {})
    versions = results.get("versions", {})
    ver = ", ".join(f"{k} {v}" for k, v in versions.items())
    load = m.get("loadavg_start"), m.get("loadavg_end")
    config = results.get("config", {})
    quick = " (quick mode)" if config.get("quick") else ""
    lines = [
        f"Measured {results.get('date', '?')} on {m.get('cpu', '?')} ({m.get('cores', '?')} cores), "
        f"Python {m.get('python', '?')}, {m.get('platform', '?')}; {ver or 'versions unknown'}; "
        f"{config.get('reps', 0)} repetitions{quick}, interleaved."
    ]
    if all(isinstance(x, list) for x in load):
        lines[0] += f" Load average 1 min: {load[0][0]:.2f} at start, {load[1][0]:.2f} at end."
    return lines


def main_table(results: Dict[str, Any]) -> List[str]:
    clients = results.get("clients", list(CLIENT_LABELS))
    has_target = any(s.get("target") is not None for s in results.get("scenarios", {}).values())
    cols = ["Scenario", "Unit"] + [CLIENT_LABELS.get(c, c) for c in clients] + ["raven-ng ÷ best peer"]
    if has_target:
        cols.append("Target")
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for name, scenario in results.get("scenarios", {}).items():
        if scenario.get("kind") == "floor" or name in TRANSPORT_ONLY:
            continue
        row = [scenario.get("title", "?"), scenario.get("unit", "")]
        row += [cell(scenario.get("clients", {}).get(c)) for c in clients]
        row.append(ratio_cell(scenario))
        if has_target:
            row.append(target_cell(scenario))
        out.append("| " + " | ".join(row) + " |")
    return out


def floor_table(results: Dict[str, Any]) -> List[str]:
    metrics: Dict[str, Any] = {}
    for name in ("floor", "bugsink_floor"):  # the sink's floor and Bugsink's (bench/bugsink.py)
        floor = results.get("scenarios", {}).get(name) or {}
        metrics.update(floor.get("clients", {}).get("machine", {}).get("metrics", {}))
    if not metrics:
        return []
    out = ["| Machine floor | Value |", "|---|---|"]
    for key, label in FLOOR_LABELS:
        if key in metrics:
            out.append(f"| {label} | {cell(metrics[key])} |")
    return out


FLOOR_LABELS = [
    ("keepalive_posts_per_s", "keep-alive HTTP POSTs/s, one Python thread (http.client) → sink"),
    ("new_connection_posts_per_s", "POSTs/s with a new connection per request"),
    ("message_json_us", "json.dumps of a message event (µs)"),
    ("exception_json_us", "json.dumps of a 10-frame exception event (µs)"),
    ("exception_json_bytes", "  its JSON size (bytes)"),
    ("exception_gzip1_us", "  gzip level 1 (µs)"),
    ("exception_gzip6_us", "  gzip level 6 (µs)"),
    ("exception_gzip9_us", "  gzip level 9 (µs)"),
    ("exception_gzip6_bytes", "  gzip level 6 size (bytes)"),
    ("bugsink_posts_per_s", "Bugsink: ingest POSTs/s of a message envelope, one Python thread (http.client)"),
    ("bugsink_ms_per_post", "  ms per POST"),
    ("bugsink_posts_per_s_2_threads", "  POSTs/s from two threads (Bugsink runs two workers)"),
]


def details_table(results: Dict[str, Any]) -> List[str]:
    clients = results.get("clients", list(CLIENT_LABELS))
    rows = []
    for scenario in results.get("scenarios", {}).values():
        if scenario.get("kind") == "floor":
            continue
        for key, label in scenario.get("secondary", []):
            cells = []
            for c in clients:
                metric = (scenario.get("clients", {}).get(c) or {}).get("metrics", {}).get(key)
                cells.append(cell(metric) if metric else "–")
            if any(x != "–" for x in cells):
                rows.append("| {} | {} | {} |".format(scenario.get("title", "?"), label, " | ".join(cells)))
    if not rows:
        return []
    cols = ["Scenario", "Figure"] + [CLIENT_LABELS.get(c, c) for c in clients]
    return ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"] + rows


# Each row's (overhead, throughput) scenarios; sync and threaded reuse the foundation's scenarios.
TRANSPORT_SCENARIOS = {
    t: {"threaded": ("overhead_message_healthy", "throughput_threaded")}.get(
        t, (f"overhead_{t}", f"throughput_{t}")
    )
    for t in TRANSPORT_ROWS
}
TRANSPORT_ONLY = {name for pair in TRANSPORT_SCENARIOS.values() for name in pair} - {
    "overhead_message_healthy",
    "throughput_threaded",
    "throughput_sync",
}
LOOP_LABELS = {
    "none": "plain Python",
    "gevent": "gevent, `patch_all()`",
    "eventlet": "eventlet, `monkey_patch()`",
    "tornado": "Tornado IOLoop",
    "twisted": "Twisted reactor",
    "asyncio": "`asyncio.run`",
}


def _problem(scenario: Dict[str, Any], client: str) -> Optional[str]:
    """Why ``client`` does not work in this scenario (an error, nothing delivered), else None."""
    runs = [r for r in scenario.get("runs", []) if r.get("client") == client]
    broken = [
        r
        for r in runs
        if r.get("error")
        or (r.get("metrics") or {}).get("delivered") == 0
        or (r.get("metrics") or {}).get("delivered_pct") == 0
    ]
    if not broken:
        return None
    r = broken[0]
    why = r.get("first_error") or r.get("error") or "nothing delivered"
    if scenario.get("kind") == "overhead" and not r.get("error"):
        why = "nothing delivered: " + why
    return str(why)[:160]


def transport_table(results: Dict[str, Any]) -> List[str]:
    """Per transport: caller overhead (captureMessage, healthy sink) and delivered events/s, each
    client inside the same loop family; ratios against the better *working* peer; notes say why a
    cell does not work."""
    scenarios = results.get("scenarios", {})
    clients = [c for c in CLIENT_LABELS if c in results.get("clients", list(CLIENT_LABELS))]
    rows = [(t, pair) for t, pair in TRANSPORT_SCENARIOS.items() if any(n in scenarios for n in pair)]
    if not rows:
        return []
    notes: List[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f" [{notes.index(text) + 1}]"

    def part(name: str, client: str) -> Tuple[str, Optional[float]]:
        scenario = scenarios.get(name)
        summary = (scenario or {}).get("clients", {}).get(client)
        if scenario is None or not summary:
            return "–", None
        if summary.get("not_applicable"):
            return "n/a" + note(summary["not_applicable"]), None
        median = summary.get("median")
        problem = _problem(scenario, client)
        text = (
            fmt(median) if median is not None else ("0" if scenario.get("kind") == "throughput" else "error")
        )
        if problem:
            return text + note(f"{CLIENT_LABELS[client]}, {name}: {problem}"), None
        if summary.get("incomplete"):
            text += " (incomplete)"
        return text, median

    def ratio(ours: Optional[float], peers: List[Optional[float]], better: str) -> str:
        working = [p for p in peers if p]
        if ours is None or not working:
            return "–"
        r = ours / (min(working) if better == "lower" else max(working))
        good = r < 1 if better == "lower" else r > 1
        return (f"{r:.2f}×" if r < 10 else f"{r:.1f}×") + (" ✓" if good else "")

    labels = [CLIENT_LABELS[c] for c in clients]
    cols = (
        ["Transport", "Runs in"]
        + [f"µs/call {x}" for x in labels]
        + ["÷ best peer"]
        + [f"events/s {x}" for x in labels]
        + ["÷ best peer"]
    )
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for transport, (over, thr) in rows:
        row = [f"`{transport}`", LOOP_LABELS.get(TRANSPORT_ROWS[transport], TRANSPORT_ROWS[transport])]
        for name, better in ((over, "lower"), (thr, "higher")):
            cells = [part(name, c) for c in clients]
            row += [text for text, _ in cells]
            values = dict(zip(clients, (v for _, v in cells)))
            row.append(
                ratio(values.get("raven-ng"), [values.get(c) for c in clients if c != "raven-ng"], better)
            )
        out.append("| " + " | ".join(row) + " |")
    out += [
        "",
        "Medians. µs/call: `captureMessage` on the loop's own thread, healthy sink (the threaded row is "
        "`overhead_message_healthy`); events/s: `throughput_<transport>` (threaded and sync: "
        "`throughput_threaded` / `throughput_sync`). sentry-sdk runs its default transport inside the same "
        "loop. ÷ best peer: raven-ng against the better peer that works (✓: raven-ng is better).",
    ]
    if notes:
        out += [""] + [f"[{i}] {text}" for i, text in enumerate(notes, 1)]
    return out


def render(results: Dict[str, Any]) -> str:
    parts = header(results) + [""] + main_table(results)
    transports = transport_table(results)
    if transports:
        parts += ["", "Per transport:", ""] + transports
    floor = floor_table(results)
    if floor:
        parts += [""] + floor
    details = details_table(results)
    if details:
        parts += ["", "Secondary figures (medians):", ""] + details
    parts += [
        "",
        'Values: median (min–max) over the repetitions. "raven-ng ÷ best peer" divides raven-ng\'s median '
        "by the better peer's median (✓: raven-ng is better).",
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--out", help="write the markdown here instead of stdout")
    args = ap.parse_args()
    with open(args.results) as f:
        text = render(json.load(f))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
