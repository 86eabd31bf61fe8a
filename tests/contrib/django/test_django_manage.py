"""``manage.py raven test``, run as a subprocess with the test project's settings: exit 0 when
the test event reached the (loopback) Sentry server, 1 when it could not, printing what
``raven test`` prints."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_MESSAGE = "This is a test message generated using ``raven test``"


def manage(*args: str, dsn: str, transport: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "RAVEN_TEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="djangoapp.settings",
        RAVEN_TEST_DSN=dsn,
        RAVEN_TEST_TRANSPORT=transport,
        PYTHONPATH=os.pathsep.join([HERE, *sys.path]),
    )
    return subprocess.run(
        [sys.executable, os.path.join(HERE, "manage.py"), *args],
        env=env,
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_raven_test_delivers(http_server: Any) -> None:
    result = manage("raven", "test", "--tags", '{"via": "manage.py"}', dsn=http_server.dsn())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Client configuration:" in result.stdout
    assert "success! (delivered in" in result.stdout
    events = http_server.events()
    assert len(events) == 1
    event = events[0]
    assert event["logentry"]["message"] == TEST_MESSAGE
    assert event["tags"]["via"] == "manage.py"
    assert event["release"] == "djangoapp@1.2.3"
    assert event["event_id"] in result.stdout


def test_raven_test_refused_port_exits_1(refused_dsn: Any) -> None:
    result = manage("raven", "test", dsn=refused_dsn(), transport="raven.transport.http.HTTPTransport")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error! the event was not delivered (network_error" in result.stdout
    assert "CommandError: the test event was not delivered" in result.stderr


def test_raven_test_refused_port_threaded_transport(refused_dsn: Any) -> None:
    result = manage("raven", "test", dsn=refused_dsn(query="timeout=0.5"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error! not delivered within" in result.stdout


def test_raven_test_without_dsn_exits_1() -> None:
    result = manage("raven", "test", dsn="")

    assert result.returncode == 1
    assert "Error: DSN configuration is not valid!" in result.stdout


@pytest.mark.parametrize("args", [("raven", "nope"), ("raven", "test", "--data", "{not json")])
def test_raven_usage_errors(args: tuple[str, ...], http_server: Any) -> None:
    result = manage(*args, dsn=http_server.dsn())

    assert result.returncode != 0
    assert http_server.requests == []
