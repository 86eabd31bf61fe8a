"""What the client does when Bugsink refuses: a wrong key (403), and over quota (429)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from typing import Any

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import BugsinkServer
from e2e_cases import LOW_QUOTA, TRANSPORTS, TransportCase

pytestmark = pytest.mark.e2e

# More events than the quota leaves room for.
OVER_QUOTA_EVENTS = 20


def wrong_key(dsn: str) -> str:
    """The same project, a key Bugsink does not know."""
    scheme, rest = dsn.split("//", 1)
    return f"{scheme}//{uuid.uuid4().hex}@{rest.split('@', 1)[1]}"


def client_log_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of raven-ng's diagnostic loggers, whether or not they propagate to the root."""
    unique = {id(record): record for record in caplog.records}
    return [r for r in unique.values() if r.name.split(".")[0] in ("raven", "sentry")]


@pytest.fixture
def capture_client_logs(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("raven.errors", "sentry.errors")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in loggers:
        logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_wrong_key_is_counted_and_logged_once(
    case: TransportCase,
    bugsink: BugsinkServer,
    bugsink_project: BugsinkProject,
    make_client: Any,
    capture_client_logs: pytest.LogCaptureFixture,
) -> None:
    client = make_client(wrong_key(bugsink_project.dsn), case.load())

    for n in range(3):
        client.captureMessage(f"sent with a wrong key {n}")

    assert client.flush(10)
    stats = client.delivery_stats()
    assert stats["sent"] == 0, stats
    assert stats["lost"].get("send_error:error") == 3, stats
    assert {line.status for line in bugsink.wait_for_requests(bugsink_project.project_id, 1)} == {403}
    mentions = [r for r in client_log_records(capture_client_logs) if "403" in r.getMessage()]
    assert len(mentions) == 1, [r.getMessage() for r in client_log_records(capture_client_logs)]
    assert mentions[0].levelno >= logging.WARNING
    assert bugsink_project.count() == 0


def run_raven_test(dsn: str) -> subprocess.CompletedProcess[str]:
    """``raven test <dsn>`` in a child process, with this raven-ng importable."""
    import raven

    source_root = os.path.dirname(os.path.dirname(os.path.abspath(raven.__file__)))
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", "from raven.scripts.runner import main; main()", "test", dsn]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )


def test_raven_test_command_sends_an_event(bugsink_project: BugsinkProject) -> None:
    result = run_raven_test(bugsink_project.dsn)

    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"Event ID was '?([0-9a-f]{32})", result.stdout)
    assert found, result.stdout
    bugsink_project.wait_for_event(found.group(1))
    assert bugsink_project.wait_for_count(1) == 1


def test_raven_test_command_with_a_wrong_key_fails_clearly(bugsink_project: BugsinkProject) -> None:
    result = run_raven_test(wrong_key(bugsink_project.dsn))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "403" in output, output
    assert "Traceback" not in output, output
    assert bugsink_project.count() == 0


QUOTA_CASES = [
    pytest.param("raven.transport.http:HTTPTransport", "", id="http-envelope"),
    pytest.param("raven.transport.http:HTTPTransport", "?protocol=store", id="http-store"),
    # One connection, so that no request is already in flight when the 429 arrives.
    pytest.param(
        "raven.transport.threaded:ThreadedHTTPTransport", "?max_connections=1", id="threaded-envelope"
    ),
]


@pytest.mark.parametrize("path, query", QUOTA_CASES)
def test_over_quota_the_client_stops_sending_for_the_window(
    path: str,
    query: str,
    low_quota_bugsink: BugsinkServer,
    low_quota_project: BugsinkProject,
    make_client: Any,
) -> None:
    """Bugsink answers 429 (on /envelope/ with ``X-Sentry-Rate-Limits: 60::key``; bare on /store/).

    The client must honour it: 60 s without a request, every event of that time counted as lost.
    """
    client = make_client(low_quota_project.dsn + query, TransportCase("quota", path).load())

    for n in range(OVER_QUOTA_EVENTS):
        client.captureMessage("quota event", extra={"n": n})

    assert client.flush(30)
    close = getattr(client, "close", None)
    if close is not None:  # closing must not send anything (a client report) inside the window either
        close()
    requests = low_quota_bugsink.wait_for_requests(low_quota_project.project_id, LOW_QUOTA + 1)
    assert [line.status for line in requests] == [200] * LOW_QUOTA + [429], requests
    assert low_quota_project.count() == LOW_QUOTA
    stats = client.delivery_stats()
    assert stats["sent"] == LOW_QUOTA, stats
    assert {k: v for k, v in stats["lost"].items() if v} == {
        "ratelimit_backoff:error": OVER_QUOTA_EVENTS - LOW_QUOTA
    }, stats
