"""The README's fault-matrix tables, from the figures the matrix prints.

    python -m pytest -q -s tests/faults | python tests/faults/summarize.py

Reads the one JSON line each cell prints (``test_fault_matrix.report``) and writes two markdown
tables: what the server received for the captured events, per fault and transport, and the worst
figures of each fault across the transports.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TRANSPORTS = [
    "sync",
    "threaded",
    "requests",
    "threaded_requests",
    "gevent",
    "eventlet",
    "tornado",
    "twisted",
    "asyncio",
]
SYNCHRONOUS = {"sync", "requests"}


def cells(lines: list[str]) -> list[dict[str, Any]]:
    found = []
    for line in lines:
        start = line.find('{"transport"')
        if start >= 0:
            found.append(json.loads(line[start:]))
    return found


def requests_cell(cell: dict[str, Any]) -> str:
    """``events+reports`` requests the server received; with none, the connections it accepted."""
    events, reports = cell["event_requests"], cell["report_requests"]
    if events == 0 and reports == 0:
        connections = cell.get("connections")
        return f"0 ({connections} conn.)" if connections else "0"
    return f"{events}+{reports}" if reports else str(events)


def outcome(cell: dict[str, Any]) -> str:
    parts = [f"sent {cell['sent']}"] if cell["sent"] else []
    parts += [f"{key.split(':')[0]} {n}" for key, n in sorted(cell["lost"].items())]
    return ", ".join(parts)


def main() -> None:
    found = cells(sys.stdin.read().splitlines())
    faults: list[str] = []
    for cell in found:
        if cell["fault"] not in faults:
            faults.append(cell["fault"])
    by_key = {(c["fault"], c["transport"]): c for c in found}
    out = [
        "| server | " + " | ".join(f"`{t}`" for t in TRANSPORTS) + " |",
        "|---" * (len(TRANSPORTS) + 1) + "|",
    ]
    for fault in faults:
        row = [by_key.get((fault, t)) for t in TRANSPORTS]
        out.append(f"| {fault} | " + " | ".join(requests_cell(c) if c else "" for c in row) + " |")
    out += [
        "",
        "| server | events ended as (queueing transports) | longest capture, queueing (ms) | "
        "longest capture, sync (ms) | longest loop stall (ms) | close took (s) | log lines |",
        "|---|---|---|---|---|---|---|",
    ]
    for fault in faults:
        row = [c for c in found if c["fault"] == fault]
        queueing = [c for c in row if c["transport"] not in SYNCHRONOUS]
        sync = [c for c in row if c["transport"] in SYNCHRONOUS]
        outcomes = sorted({outcome(c) for c in queueing})
        stalls = [c["longest_stall_ms"] for c in queueing if c["longest_stall_ms"] is not None]
        out.append(
            f"| {fault} | {'; '.join(outcomes)} | "
            f"{max(c['longest_capture_ms'] for c in queueing):g} | "
            f"{max(c['longest_capture_ms'] for c in sync):g} | "
            f"{max(stalls):g} | {max(c['close_s'] for c in row):g} | "
            f"{max(c['log_lines'] for c in row)} |"
        )
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
