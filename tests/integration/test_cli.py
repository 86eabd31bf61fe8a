"""The ``raven test`` command, run as users run it: in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import raven
from raven.cli import TEST_MESSAGE

SRC = str(Path(raven.__file__).resolve().parent.parent)

#: Generous upper bound for one CLI run; a run that hangs fails here instead of blocking the suite.
RUN_TIMEOUT = 60


def run_cli(
    *args: str, env: Optional[dict[str, str]] = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    environ["PYTHONPATH"] = SRC
    environ.update(env or {})
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "raven.scripts.runner", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=environ,
    )
    return result, time.monotonic() - started


def test_self_check_without_dsn_delivers_through_every_installed_transport() -> None:
    result, _ = run_cli("test")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if "Transport" in line}
    assert rows["HTTPTransport"] == "yes"
    assert rows["ThreadedHTTPTransport"] == "yes"
    assert "delivered" in result.stdout and "time (ms)" in result.stdout
    assert "OK: all" in result.stdout


def test_dsn_argument_delivers_the_test_event(http_server: Any) -> None:
    result, _ = run_cli("test", http_server.dsn(secret="s3cret"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "success!" in result.stdout
    assert "s3cret" not in result.stdout
    [event] = http_server.events()
    assert event["logentry"]["formatted"] == TEST_MESSAGE
    assert event["level"] == "info"
    assert event["logger"] == "raven.test"


def test_sentry_dsn_from_the_environment(http_server: Any) -> None:
    result, _ = run_cli("test", env={"SENTRY_DSN": http_server.dsn()})
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(http_server.events()) == 1


def test_tags_and_data_options(http_server: Any) -> None:
    result, _ = run_cli(
        "test", http_server.dsn(), "--tags", '{"from": "cli"}', "--data", '{"logger": "custom"}'
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [event] = http_server.events()
    assert event["tags"] == {"from": "cli"}
    assert event["logger"] == "custom"


def test_refused_dsn_fails_with_a_clear_message(refused_dsn: Any) -> None:
    result, elapsed = run_cli("test", refused_dsn())
    assert result.returncode == 1
    assert "error!" in result.stdout
    assert "network_error" in result.stdout
    assert "refused" in result.stdout.lower()
    assert elapsed < RUN_TIMEOUT


def test_server_that_never_answers_does_not_hang(silent_server: Any) -> None:
    result, elapsed = run_cli("test", silent_server.dsn(query="timeout=0.5"))
    assert result.returncode == 1
    assert "error!" in result.stdout
    assert elapsed < 30


def test_server_refusing_the_event_fails(http_server: Any) -> None:
    from servers import Answer

    http_server.default = Answer(status=403, headers={"X-Sentry-Error": "bad key"}, body=b"")
    result, _ = run_cli("test", http_server.dsn())
    assert result.returncode == 1
    assert "send_error" in result.stdout


def test_an_in_process_test_puts_the_library_loggers_back(http_server: Any) -> None:
    """``manage.py raven test`` runs in the application's process: the collector that explains a
    failure must not stay on the library's loggers, nor change their level."""
    import io
    import logging

    from servers import Answer

    from raven.cli import run_dsn_test

    loggers = [logging.getLogger(name) for name in ("sentry.errors", "raven")]
    before = [(log.level, log.propagate, list(log.handlers)) for log in loggers]
    http_server.default = Answer(status=403, headers={"X-Sentry-Error": "bad key"}, body=b"")
    out = io.StringIO()
    assert run_dsn_test(http_server.dsn(), out=out) == 1
    assert "bad key" in out.getvalue()  # the collector was there while the test ran
    assert [(log.level, log.propagate, list(log.handlers)) for log in loggers] == before


def test_invalid_dsn_option_is_reported() -> None:
    result, _ = run_cli("test", "https://public@sentry.invalid/1?timeout=abc")
    assert result.returncode == 1
    assert "Error:" in result.stdout and "timeout" in result.stdout


def test_version() -> None:
    result, _ = run_cli("--version")
    assert result.returncode == 0
    assert raven.VERSION in result.stdout
