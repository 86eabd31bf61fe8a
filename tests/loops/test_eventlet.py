"""EventletHTTPTransport inside a running eventlet hub, with and without ``monkey_patch``.

Each scenario runs in a child process (tests/loops/children/eventlet_child.py); the loopback
servers run here and the assertions are on what they received and what the child reported.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

pytest.importorskip("eventlet")

sys.path.insert(0, os.path.dirname(__file__))

from harness import run_child  # noqa: E402
from servers import Answer  # noqa: E402

CHILD = "eventlet_child.py"
LIBRARY = "eventlet"
LIMIT_OPTION = "pool_size"
LIMIT_ATTRIBUTE = "pool_size"

#: monkey_patch() first, or a program that never monkeypatches.
MODES = [pytest.param(True, id="patched"), pytest.param(False, id="unpatched")]


def dsn(server: Any, query: str = "") -> str:
    return str(server.dsn(scheme=f"{LIBRARY}+{getattr(server, 'scheme', 'http')}", query=query))


def normalizer_errors(event: dict[str, Any]) -> Any:
    processing = pytest.importorskip("sentry_relay.processing")
    return processing.StoreNormalizer().normalize_event(event).get("errors")


@pytest.mark.parametrize("patch", MODES)
def test_delivers_message_and_exception_on_a_kept_alive_connection(http_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "deliver", dsn=dsn(http_server), patch=patch)

    assert result["transport"] == "EventletHTTPTransport"
    assert result["flushed"] == [True, True]
    assert result["stats"] == {"sent": 2, "lost": {}}
    requests = http_server.wait_for_requests(2)
    assert http_server.connections == 1  # the second send reused the idle connection
    events = []
    for request in requests:
        assert request.method == "POST" and request.is_envelope
        assert request.path == "/api/1/envelope/"
        assert request.headers["content-type"] == "application/x-sentry-envelope"
        assert request.auth["sentry_key"] == "public"
        assert request.headers["user-agent"].startswith("raven-ng/")
        events.extend(request.events())
    message, exception = events
    assert message["event_id"] == result["message_id"]
    assert exception["event_id"] == result["exception_id"]
    assert exception["exception"]["values"][-1]["type"] == "ValueError"
    for event in events:
        assert not normalizer_errors(event)


@pytest.mark.parametrize("patch", MODES)
def test_tls_self_signed_rejected_by_default(https_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "single", dsn=dsn(https_server), patch=patch)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server.requests == []


@pytest.mark.parametrize("patch", MODES)
@pytest.mark.parametrize("query", ["ca_certs", "verify_ssl=0"])
def test_tls_accepted_with_ca_certs_or_without_verification(
    https_server: Any, ca_pem: str, patch: bool, query: str
) -> None:
    query = f"ca_certs={ca_pem}" if query == "ca_certs" else query
    result = run_child(CHILD, "single", dsn=dsn(https_server, query), patch=patch)

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)[0].events()) == 1


@pytest.mark.parametrize("patch", MODES)
def test_tls_wrong_hostname_rejected(https_server_wrong_host: Any, ca_pem: str, patch: bool) -> None:
    result = run_child(CHILD, "single", dsn=dsn(https_server_wrong_host, f"ca_certs={ca_pem}"), patch=patch)

    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server_wrong_host.requests == []


@pytest.mark.parametrize("patch", MODES)
def test_timeout_is_reported_while_the_hub_keeps_running(silent_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "never_answers", dsn=dsn(silent_server, "timeout=0.5"), patch=patch)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert result["elapsed"] < 5.0  # timeout=0.5, generous bound
    assert result["ticks_during"] >= 10  # a 10 ms ticker kept ticking while the send waited


@pytest.mark.parametrize("patch", MODES)
def test_429_with_rate_limits_stops_further_requests(http_server: Any, patch: bool) -> None:
    http_server.script(Answer(429, headers={"X-Sentry-Rate-Limits": "60:error:organization"}))
    result = run_child(CHILD, "ratelimit", dsn=dsn(http_server), patch=patch)

    assert result["flushed"] == [True, True]
    assert result["stats"]["sent"] == 0
    # The event answered with 429 and the three captured during the window.
    assert result["stats"]["lost"] == {"ratelimit_backoff:error": 4}
    assert sum(len(r.events()) for r in http_server.requests) == 1  # only the first event was sent


@pytest.mark.parametrize("patch", MODES)
def test_hub_not_blocked_while_capturing_1000_events(http_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "stall", dsn=dsn(http_server), patch=patch, count=1000)

    print(
        f"\n{LIBRARY} patched={patch}: longest stall {result['longest_stall'] * 1000:.1f} ms, "
        f"{result['events_per_second']:.0f} events/s"
    )
    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1000, "lost": {}}
    assert result["longest_stall"] < 1.0
    assert http_server.connections <= 100  # pool_size: at most that many sockets


@pytest.mark.parametrize("patch", MODES)
def test_captures_and_flush_from_a_real_os_thread(http_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "threads", dsn=dsn(http_server), patch=patch)

    assert "error" not in result
    assert result["thread_flush"] is True
    assert result["stats"] == {"sent": 5, "lost": {}}
    assert len(http_server.wait_for_requests(5)) == 5


@pytest.mark.parametrize("patch", MODES)
def test_pending_events_delivered_at_exit(http_server: Any, patch: bool) -> None:
    result = run_child(CHILD, "at_exit", dsn=dsn(http_server), patch=patch)

    requests = http_server.wait_for_requests(3)
    assert sorted(event["event_id"] for r in requests for event in r.events()) == sorted(result["ids"])


def test_options_limit_and_unknown_option(http_server: Any) -> None:
    result = run_child(
        CHILD,
        "options",
        attribute=LIMIT_ATTRIBUTE,
        dsns={
            "limit": dsn(http_server, f"{LIMIT_OPTION}=3"),
            "unknown": dsn(http_server, "bogus_option=1"),
            "bad": dsn(http_server, f"{LIMIT_OPTION}=0"),
        },
    )

    assert result["limit"] == {"limit": 3}
    assert result["unknown"]["error"] == "InvalidDsn" and "bogus_option" in result["unknown"]["message"]
    assert result["bad"]["error"] == "InvalidDsn" and LIMIT_OPTION in result["bad"]["message"]


def test_missing_library_names_the_extra(http_server: Any) -> None:
    result = run_child(CHILD, "missing", dsn=dsn(http_server))

    assert result["error"] == "ConfigurationError"
    assert f"pip install 'raven-ng[{LIBRARY}]'" in result["message"]


def test_import_raven_does_not_import_the_library() -> None:
    assert run_child(CHILD, "lazy")["imported"] is False
