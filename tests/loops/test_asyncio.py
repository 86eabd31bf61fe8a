"""AsyncioHTTPTransport (aiohttp) inside a running asyncio loop: a child process per scenario,
the loopback servers here.

The cases are written against a ``family`` fixture; tests/loops/test_tornado.py imports them and
runs them again with Tornado's.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from family import LoopFamily, assert_timed_out_while_ticking  # noqa: E402
from harness import run_child  # noqa: E402
from pipeline import check_envelope_post, normalizer_errors  # noqa: E402
from servers import Answer  # noqa: E402


@dataclass(frozen=True)
class Family(LoopFamily):
    extra: str
    timeout_option: str = "timeout"
    keeps_alive: bool = True


@pytest.fixture
def family() -> Family:
    pytest.importorskip("aiohttp")
    return Family("asyncio_child.py", "asyncio", "asyncio")


def test_delivers_message_and_exception_in_a_running_loop(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "deliver", dsn=family.dsn(http_server))

    assert result["library_imported_by_raven"] is False  # import raven alone never imports it
    assert result["flushed"] is True
    assert result["sync_flush_on_loop"] is True  # nothing pending: the sync flush on the loop says so
    assert result["stats"] == {"sent": 2, "lost": {}}
    requests = http_server.wait_for_requests(2)
    events = []
    for request in requests:
        check_envelope_post(request)
        header, _ = request.envelope
        assert header["event_id"] in result["ids"]
        events.extend(request.events())
    by_id = {event["event_id"]: event for event in events}
    assert set(by_id) == set(result["ids"])
    assert "hello from a running loop" in json.dumps(by_id[result["ids"][0]])
    assert by_id[result["ids"][1]]["exception"]["values"][-1]["type"] == "ValueError"
    for event in events:
        assert not normalizer_errors(event)


def test_captures_from_other_threads_and_a_blocking_flush_off_the_loop(
    family: Family, http_server: Any
) -> None:
    result = run_child(family.child, "threads", dsn=family.dsn(http_server))

    assert result["thread_flush"] is True
    assert result["stats"] == {"sent": 5, "lost": {}}
    assert len(http_server.wait_for_requests(5)) == 5


def test_client_created_and_capturing_before_the_loop_starts(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "created_before_loop", dsn=family.dsn(http_server))

    assert result["flush_no_loop"] is True
    assert result["flushed"] is True
    assert result["stats"] == {"sent": 2, "lost": {}}
    assert len(http_server.wait_for_requests(2)) == 2


@pytest.mark.parametrize("scenario", ["shutdown", "close_on_loop", "cancel_unstarted"])
def test_pending_events_are_delivered_when_the_loop_shuts_down(
    family: Family, http_server: Any, scenario: str
) -> None:
    run_child(family.child, scenario, dsn=family.dsn(http_server))

    # No flush in the child: the loop's shutdown (or the exit hook) delivered both.
    assert len(http_server.wait_for_requests(2, timeout=5)) == 2


def test_posts_in_flight_when_the_loop_shuts_down_are_completed(family: Family, http_server: Any) -> None:
    http_server.default = Answer(delay=0.3)  # both POSTs are in flight when the loop shuts down
    run_child(family.child, "shutdown", dsn=family.dsn(http_server, "shutdown_timeout=5"))

    requests = http_server.wait_for_requests(2, timeout=5)
    # An interrupted POST is sent again (Sentry drops a duplicate by its event id): both arrive.
    assert len({event["event_id"] for request in requests for event in request.events()}) == 2


def test_a_loop_closed_with_our_tasks_pending_is_quiet(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "run_until_complete_then_close", dsn=family.dsn(http_server))

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1, "lost": {}}
    assert "destroyed but it is pending" not in result["stderr"]


def test_pending_events_are_delivered_at_exit_without_a_loop(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "at_exit", dsn=family.dsn(http_server))

    assert result["captured"] is True
    assert len(http_server.wait_for_requests(1, timeout=5)) == 1


def test_self_signed_server_is_rejected_by_default(family: Family, https_server: Any) -> None:
    result = run_child(family.child, "single", dsn=family.dsn(https_server), flush=1.0)

    # Nothing reached the server: the event waits for another try, until the close counts it.
    assert result["flushed"] is False
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server.requests == []
    assert "tls error" in result["stderr"].lower()


def test_ca_certs_option_trusts_the_server(family: Family, https_server: Any, ca_pem: str) -> None:
    result = run_child(family.child, "single", dsn=family.dsn(https_server, f"ca_certs={ca_pem}"))

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)) == 1


def test_verify_ssl_0_accepts_the_self_signed_server(family: Family, https_server: Any) -> None:
    result = run_child(family.child, "single", dsn=family.dsn(https_server, "verify_ssl=0"))

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)) == 1


def test_wrong_hostname_is_rejected(family: Family, https_server_wrong_host: Any, ca_pem: str) -> None:
    result = run_child(
        family.child, "single", dsn=family.dsn(https_server_wrong_host, f"ca_certs={ca_pem}"), flush=1.0
    )

    assert result["flushed"] is False
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server_wrong_host.requests == []
    assert "tls error" in result["stderr"].lower()


def test_timeout_against_a_silent_server_keeps_the_loop_ticking(family: Family, silent_server: Any) -> None:
    query = f"{family.timeout_option}=0.5"
    result = run_child(
        family.child, "single", dsn=silent_server.dsn(scheme=f"{family.scheme}+http", query=query)
    )

    assert_timed_out_while_ticking(result, silent_server, 0.5)


def test_refused_connection_is_a_network_error(family: Family, refused_dsn: Any) -> None:
    result = run_child(
        family.child, "single", dsn=refused_dsn(scheme=f"{family.scheme}+http", query="timeout=2"), flush=1.0
    )

    assert result["flushed"] is False
    assert result["stats"] == {"sent": 0, "lost": {}}
    assert "connect error" in result["stderr"].lower()
    assert "trying again in 0.5 s" in result["stderr"]  # kept, and retried on the loop's timer
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}


def test_429_with_rate_limits_stops_further_requests(family: Family, http_server: Any) -> None:
    http_server.script(Answer(429, {"X-Sentry-Rate-Limits": "60:error:key", "Retry-After": "60"}))
    result = run_child(family.child, "ratelimit", dsn=family.dsn(http_server))

    assert result["flush1"] is True and result["flush2"] is True
    assert result["stats"]["sent"] == 0
    assert result["stats"]["lost"] == {"ratelimit_backoff:error": 4}
    assert http_server.events() and len(http_server.events()) == 1  # only the first event went out


def test_loop_is_not_blocked_while_capturing_1000_events(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "stall", timeout=120, dsn=family.dsn(http_server), count=1000)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1000, "lost": {}}
    assert len(http_server.events()) == 1000
    if family.keeps_alive:
        assert http_server.connections <= 4  # max_connections, reused
    assert result["longest_stall"] < 1.0
    print(
        json.dumps(
            {
                "family": family.scheme,
                "longest_stall_ms": round(result["longest_stall"] * 1000, 2),
                "longest_capture_ms": round(result["longest_capture"] * 1000, 2),
                "longest_capture_index": result["longest_capture_index"],
                "events_per_second": round(result["events_per_second"]),
                "capture_seconds": round(result["capture_seconds"], 3),
                "connections": http_server.connections,
            }
        )
    )


def test_unknown_option_is_invalid_dsn_naming_it(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "unknown_option", dsn=family.dsn(http_server, "timeout=1&colour=blue"))

    assert result["error"].startswith("InvalidDsn") and "colour" in result["error"]


def test_missing_library_names_the_extra(family: Family, http_server: Any) -> None:
    result = run_child(family.child, "missing", dsn=family.dsn(http_server))

    assert result["configuration_error"] is True
    assert f"pip install 'raven-ng[{family.extra}]'" in result["error"]


def test_aiohttp_failure_table() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    import ssl

    from raven._delivery.dsn import TransportOptions
    from raven._delivery.model import FailureKind
    from raven.transport.asyncio import _failure_table

    key = aiohttp.client_reqrep.ConnectionKey("h", 1, True, True, None, None, None)
    table = _failure_table(aiohttp)

    def kind(exc: BaseException) -> FailureKind:
        for exc_type, mapped in table:
            if isinstance(exc, exc_type):
                return mapped
        return FailureKind.OTHER

    cert_error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert kind(aiohttp.ClientConnectorCertificateError(key, cert_error)) is FailureKind.TLS
    assert (
        kind(aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))) is FailureKind.CONNECT
    )
    assert kind(aiohttp.ConnectionTimeoutError()) is FailureKind.TIMEOUT
    assert kind(TimeoutError()) is FailureKind.TIMEOUT
    assert kind(aiohttp.ServerDisconnectedError()) is FailureKind.READ
    assert kind(aiohttp.ClientPayloadError("short")) is FailureKind.READ
    assert kind(aiohttp.ClientOSError(104, "reset")) is FailureKind.READ
    assert TransportOptions().timeout == 1.0
