"""Run one event-loop family's scenario in a child process.

Monkeypatching (gevent, eventlet) cannot be undone inside one pytest process, so every loop
family runs in its own interpreter: the loopback servers stay in the parent (pytest), the child
patches first, then imports raven, runs one scenario, and prints one JSON line as its last line
of stdout. The child's stderr is kept for the failure message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

CHILDREN = Path(__file__).parent / "children"
SRC = Path(__file__).resolve().parents[2] / "src"


def run_child(
    script: str,
    scenario: str,
    timeout: float = 60.0,
    *,
    children: Path = CHILDREN,
    environ: Optional[Mapping[str, Optional[str]]] = None,
    **params: Any,
) -> dict[str, Any]:
    """Run ``<children>/<script>`` with ``scenario`` and ``params`` (JSON), return its JSON result.

    ``children`` is the scripts' directory: this one's ``children/`` unless another suite has its own.
    ``environ``: variables to set in the child (None: to remove).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("SENTRY_DSN", None)
    for name, value in (environ or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    payload = json.dumps({"scenario": scenario, **params})
    proc = subprocess.run(
        [sys.executable, str(children / script), payload],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"{script} {scenario} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = proc.stderr
    return result
