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
from typing import Any, Dict, List, Optional

CLIENT_LABELS = {"raven-ng": "raven-ng", "raven": "raven 6.10", "sentry-sdk": "sentry-sdk"}


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
    for scenario in results.get("scenarios", {}).values():
        if scenario.get("kind") == "floor":
            continue
        row = [scenario.get("title", "?"), scenario.get("unit", "")]
        row += [cell(scenario.get("clients", {}).get(c)) for c in clients]
        row.append(ratio_cell(scenario))
        if has_target:
            row.append(target_cell(scenario))
        out.append("| " + " | ".join(row) + " |")
    return out


def floor_table(results: Dict[str, Any]) -> List[str]:
    floor = results.get("scenarios", {}).get("floor")
    if not floor:
        return []
    metrics = floor.get("clients", {}).get("machine", {}).get("metrics", {})
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


def render(results: Dict[str, Any]) -> str:
    parts = header(results) + [""] + main_table(results)
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
