"""A real Redis (Debian's ``redis-server``) and real Celery workers for the worker tests.

Every process starts in its own session on 127.0.0.1 (a free port, a temporary directory), every
wait is bounded, and :meth:`stop` ends the whole process group, gracefully first, then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[2] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the process (a Celery worker's warm shutdown stops its pool children itself),
    ``grace`` seconds, then SIGKILL to whatever is left of its process group."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


class RedisServer:
    """``redis-server`` on a free 127.0.0.1 port, nothing persisted, in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log = workdir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.workdir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "yes",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server did not start: {self.log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, 5.0)


class CeleryWorker:
    """``celery -A celery_app worker --pool=prefork`` in a subprocess, logging to a file."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str], *options: str) -> None:
        self.workdir = workdir
        self.name = name
        self.env = env
        self.options = options
        self.log = workdir / f"worker-{name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> CeleryWorker:
        env = dict(os.environ)
        env.pop("SENTRY_DSN", None)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(SRC), env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{self.name}@%h",
            *self.options,
        ]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker says it is ready to take tasks; RuntimeError (with its log) if not."""
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes():
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} worker did not get ready:\n{self.output()[-4000:]}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, 10.0)
