"""Fixtures of the spool tests: a spool directory, a port that refuses until served, the servers
and child processes of a test (stopped and killed at its end)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from servers import LoopbackServer  # noqa: E402
from spool_support import Children, Port  # noqa: E402


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def port() -> Iterator[Port]:
    reserved = Port()
    yield reserved
    reserved.release()


@pytest.fixture
def servers() -> Iterator[list[LoopbackServer]]:
    """Servers a test started (append them): stopped at its end."""
    started: list[LoopbackServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    logs = tmp_path / "logs"
    logs.mkdir()
    spawned = Children(logs)
    yield spawned
    spawned.kill_all()
