"""The green transports inside a running hub, with and without monkeypatching: gevent's
``GeventedHTTPTransport`` and eventlet's ``EventletHTTPTransport``.

The cases are written against a ``family`` fixture (one per library). Each scenario runs in a
child process of that family (tests/loops/children/<library>_child.py); the loopback servers run
here and the assertions are on what they received and what the child reported.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from family import LoopFamily  # noqa: E402
from pipeline import check_envelope_post, normalizer_errors  # noqa: E402
from servers import Answer  # noqa: E402


@dataclass(frozen=True)
class Family(LoopFamily):
    """What differs between the gevent and the eventlet cases."""

    transport: str
    #: the option (and transport attribute) bounding the concurrent sends
    limit_option: str

    @property
    def library(self) -> str:
        return self.scheme


FAMILIES = {
    "gevent": Family("gevent_child.py", "gevent", "GeventedHTTPTransport", "maximum_outstanding_requests"),
    "eventlet": Family("eventlet_child.py", "eventlet", "EventletHTTPTransport", "pool_size"),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    pytest.importorskip(request.param)
    return FAMILIES[request.param]


#: monkeypatching first (patch_all(), monkey_patch()), or a program that never monkeypatches.
MODES = [pytest.param(True, id="patched"), pytest.param(False, id="unpatched")]


@pytest.mark.parametrize("patch", MODES)
def test_delivers_message_and_exception_on_a_kept_alive_connection(
    family: Family, http_server: Any, patch: bool
) -> None:
    result = family.run("deliver", dsn=family.dsn(http_server), patch=patch)

    assert result["transport"] == family.transport
    assert result["flushed"] == [True, True]
    assert result["stats"] == {"sent": 2, "lost": {}}
    requests = http_server.wait_for_requests(2)
    assert http_server.connections == 1  # the second send reused the idle connection
    events = []
    for request in requests:
        check_envelope_post(request)
        events.extend(request.events())
    message, exception = events
    assert message["event_id"] == result["message_id"]
    assert exception["event_id"] == result["exception_id"]
    assert exception["exception"]["values"][-1]["type"] == "ValueError"
    for event in events:
        assert not normalizer_errors(event)


@pytest.mark.parametrize("patch", MODES)
def test_tls_self_signed_rejected_by_default(family: Family, https_server: Any, patch: bool) -> None:
    result = family.run("single", dsn=family.dsn(https_server), patch=patch, flush=1.0)

    # Nothing reached the server: the event waits for another try, until the close counts it.
    assert result["flushed"] is False
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server.requests == []
    assert "tls error" in result["stderr"].lower()


@pytest.mark.parametrize("patch", MODES)
@pytest.mark.parametrize("query", ["ca_certs", "verify_ssl=0"])
def test_tls_accepted_with_ca_certs_or_without_verification(
    family: Family, https_server: Any, ca_pem: str, patch: bool, query: str
) -> None:
    query = f"ca_certs={ca_pem}" if query == "ca_certs" else query
    result = family.run("single", dsn=family.dsn(https_server, query), patch=patch)

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)[0].events()) == 1


@pytest.mark.parametrize("patch", MODES)
def test_tls_wrong_hostname_rejected(
    family: Family, https_server_wrong_host: Any, ca_pem: str, patch: bool
) -> None:
    result = family.run(
        "single", dsn=family.dsn(https_server_wrong_host, f"ca_certs={ca_pem}"), patch=patch, flush=1.0
    )

    assert result["flushed"] is False
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server_wrong_host.requests == []


@pytest.mark.parametrize("patch", MODES)
def test_timeout_is_reported_while_the_hub_keeps_running(
    family: Family, silent_server: Any, patch: bool
) -> None:
    result = family.run("never_answers", dsn=family.dsn(silent_server, "timeout=0.5"), patch=patch)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert result["elapsed"] < 5.0  # timeout=0.5, generous bound
    assert result["ticks_during"] >= 10  # a 10 ms ticker kept ticking while the send waited


@pytest.mark.parametrize("patch", MODES)
def test_429_with_rate_limits_stops_further_requests(family: Family, http_server: Any, patch: bool) -> None:
    http_server.script(Answer(429, headers={"X-Sentry-Rate-Limits": "60:error:organization"}))
    result = family.run("ratelimit", dsn=family.dsn(http_server), patch=patch)

    assert result["flushed"] == [True, True]
    assert result["stats"]["sent"] == 0
    # The event answered with 429 and the three captured during the window.
    assert result["stats"]["lost"] == {"ratelimit_backoff:error": 4}
    assert sum(len(r.events()) for r in http_server.requests) == 1  # only the first event was sent
    # The three dropped during the window had no event to carry their report: flush sent it. The
    # event the 429 refused is not in it (the server counted that one).
    assert http_server.discarded() == {"ratelimit_backoff:error": 3}


@pytest.mark.parametrize("patch", MODES)
def test_flush_sends_the_client_report_after_a_queue_overflow(
    family: Family, http_server: Any, patch: bool
) -> None:
    query = f"queue_size=1&{family.limit_option}=1"
    result = family.run("overflow", dsn=family.dsn(http_server, query), patch=patch)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1, "lost": {"queue_overflow:error": 2}}
    assert http_server.discarded() == {"queue_overflow:error": 2}


@pytest.mark.parametrize("patch", MODES)
def test_hub_not_blocked_while_capturing_1000_events(family: Family, http_server: Any, patch: bool) -> None:
    result = family.run("stall", dsn=family.dsn(http_server), patch=patch, count=1000)

    print(
        f"\n{family.library} patched={patch}: longest stall {result['longest_stall'] * 1000:.1f} ms, "
        f"{result['events_per_second']:.0f} events/s"
    )
    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1000, "lost": {}}
    assert result["longest_stall"] < 1.0
    assert http_server.connections <= 100  # the limit option's default: at most that many sockets


@pytest.mark.parametrize("patch", MODES)
def test_captures_and_flush_from_a_real_os_thread(family: Family, http_server: Any, patch: bool) -> None:
    result = family.run("threads", dsn=family.dsn(http_server), patch=patch)

    assert "error" not in result
    assert result["thread_flush"] is True
    assert result["stats"] == {"sent": 5, "lost": {}}
    assert len(http_server.wait_for_requests(5)) == 5


@pytest.mark.parametrize("patch", MODES)
def test_pending_events_delivered_at_exit(family: Family, http_server: Any, patch: bool) -> None:
    result = family.run("at_exit", dsn=family.dsn(http_server), patch=patch)

    requests = http_server.wait_for_requests(3)
    assert sorted(event["event_id"] for r in requests for event in r.events()) == sorted(result["ids"])


def test_options_limit_and_unknown_option(family: Family, http_server: Any) -> None:
    result = family.run(
        "options",
        attribute=family.limit_option,
        dsns={
            "limit": family.dsn(http_server, f"{family.limit_option}=3"),
            "unknown": family.dsn(http_server, "bogus_option=1"),
            "bad": family.dsn(http_server, f"{family.limit_option}=0"),
        },
    )

    assert result["limit"] == {"limit": 3}
    assert result["unknown"]["error"] == "InvalidDsn" and "bogus_option" in result["unknown"]["message"]
    assert result["bad"]["error"] == "InvalidDsn" and family.limit_option in result["bad"]["message"]


def test_missing_library_names_the_extra(family: Family, http_server: Any) -> None:
    result = family.run("missing", dsn=family.dsn(http_server))

    assert result["error"] == "ConfigurationError"
    assert f"pip install 'raven-ng[{family.library}]'" in result["message"]


def test_import_raven_does_not_import_the_library(family: Family) -> None:
    assert family.run("lazy")["imported"] is False


@pytest.mark.parametrize("patch", MODES)
def test_refused_connection_is_tried_again_then_counted_at_close(
    family: Family, refused_dsn: Any, patch: bool
) -> None:
    result = family.run("single", dsn=refused_dsn(scheme=f"{family.scheme}+http"), patch=patch, flush=2.0)

    # Attempts 0.5 and 1 s apart on the hub's timers: the event waits for the server ...
    assert result["flushed"] is False
    assert result["stats"] == {"sent": 0, "lost": {}}
    assert "trying again in 0.5 s" in result["stderr"]  # (the next ones: the log is rate-limited)
    # ... until the close counts it.
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
