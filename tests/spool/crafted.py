"""Spool files written by hand (as another process, an older version or a human would leave them),
the ``raven spool`` command run as users run it, and quiet in-process clients.

A crafted file follows the documented layout: ``<capture time ns, 19 digits>_<dsn tag>_<owner>_
<event id>_<size>.envelope`` holding a Sentry envelope with one event item. Its owner is a token
with no lock in ``.owners/``: a process that is gone, so any client may take its files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest
from spool_support import SRC

#: The owner token of crafted files: nobody holds its lock.
GONE = "f00dfeed0001"
#: Generous bound for one CLI run.
CLI_TIMEOUT = 60.0


def make_client(dsn: str, **options: Any) -> Any:
    """A client that hooks nothing in the test process (close it)."""
    import raven

    return raven.Client(dsn, install_sys_hook=False, install_logging_hook=False, hook_libraries=(), **options)


def tag_of(dsn: str) -> str:
    """The DSN tag the spool puts in file names for ``dsn``."""
    from raven._delivery.dsn import Dsn
    from raven._delivery.spool import dsn_tag

    return dsn_tag(Dsn.parse(dsn).without_secret())


def event(message: str = "crafted", event_id: Optional[str] = None) -> dict[str, Any]:
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "platform": "python",
        "level": "error",
        "logger": "tests.spool",
        "message": message,
    }


def envelope(body: dict[str, Any], header_id: Optional[str] = None) -> bytes:
    """A Sentry envelope with ``body`` as its one event item (no ``sent_at``, as the spool writes)."""
    payload = json.dumps(body).encode()
    header = json.dumps({"event_id": header_id or body["event_id"]}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return header + b"\n" + item + b"\n" + payload + b"\n"


def file_name(captured: float, tag: str, event_id: str, size: int, owner: str = GONE) -> str:
    return f"{int(captured * 1e9):019d}_{tag}_{owner}_{event_id}_{size}.envelope"


def write_file(
    spool_dir: Path,
    dsn: str,
    captured: float,
    message: str = "crafted",
    data: Optional[bytes] = None,
    event_id: Optional[str] = None,
    owner: str = GONE,
) -> tuple[str, str]:
    """Write a spool file of ``dsn`` captured at wall time ``captured``: ``(file name, event id)``.
    ``data`` replaces the contents (a corrupt file) and keeps the name of a whole one."""
    body = event(message, event_id)
    contents = envelope(body) if data is None else data
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = file_name(captured, tag_of(dsn), body["event_id"], len(contents), owner)
    (spool_dir / name).write_bytes(contents)
    return name, body["event_id"]


def name_event_id(name: str) -> str:
    return name.split("_")[3]


# -- the command


def run_cli(*args: str, timeout: float = CLI_TIMEOUT) -> tuple[subprocess.CompletedProcess[str], float]:
    """``raven <args>`` in a subprocess (as ``tests/integration/test_cli.py`` runs it); the result and
    how long it took."""
    env = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(SRC)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "raven.scripts.runner", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return result, time.monotonic() - started


# -- filesystems (as root)


@contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path`` with ``options`` (``size=256k``, ``ro`` ...); skips the test when
    this machine does not let us mount."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        # Lazy: a client's lock file may still be open when a test fails.
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` with one file until it is full; the file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 16):  # bounded: 256 MiB at most
            try:
                os.write(fd, b"\0" * 4096)
            except OSError:
                break
        else:
            raise AssertionError(f"the filesystem of {directory} never filled up")
    finally:
        os.close(fd)
    return filler
