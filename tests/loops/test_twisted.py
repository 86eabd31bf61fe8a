"""TwistedHTTPTransport inside a running reactor (a child process per scenario; servers here)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

pytest.importorskip("twisted.web.client")
pytest.importorskip("service_identity")

sys.path.insert(0, os.path.dirname(__file__))

from family import assert_timed_out_while_ticking  # noqa: E402
from harness import run_child  # noqa: E402
from pipeline import check_envelope_post, normalizer_errors  # noqa: E402
from servers import Answer  # noqa: E402

CHILD = "twisted_child.py"


def twisted_dsn(server: Any, query: str = "") -> str:
    return str(server.dsn(scheme=f"twisted+{server.scheme}", query=query))


def test_delivers_message_and_exception_on_one_kept_alive_connection(http_server: Any) -> None:
    result = run_child(CHILD, "deliver", dsn=twisted_dsn(http_server))

    assert result["twisted_imported_by_raven"] is False  # import raven alone never imports Twisted
    assert result["flush1"] is True and result["flush2"] is True
    assert result["stats"] == {"sent": 2, "lost": {}}
    requests = http_server.wait_for_requests(2)
    assert http_server.connections == 1  # the pooled connection was reused
    events = []
    for request in requests:
        check_envelope_post(request)
        header, _ = request.envelope
        events.extend(request.events())
        assert header["event_id"] in result["ids"]
    message, exception = events
    assert message["event_id"] == result["ids"][0]
    assert exception["exception"]["values"][-1]["type"] == "ValueError"
    for event in events:
        assert not normalizer_errors(event)


def test_captures_and_blocking_flush_from_another_thread(http_server: Any) -> None:
    result = run_child(CHILD, "threads", dsn=twisted_dsn(http_server))

    assert result["thread_flush"] is True
    assert result["stats"] == {"sent": 5, "lost": {}}
    assert len(http_server.wait_for_requests(5)) == 5
    assert http_server.connections <= 4  # max_connections


def test_reactor_in_a_thread_and_captures_before_it_starts(http_server: Any) -> None:
    result = run_child(CHILD, "reactor_in_thread", dsn=twisted_dsn(http_server))

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 2, "lost": {}}
    assert result["reactor_stopped"] is True


def test_pending_events_are_delivered_at_reactor_shutdown(http_server: Any) -> None:
    result = run_child(CHILD, "shutdown", dsn=twisted_dsn(http_server))

    assert result["stats"] == {"sent": 2, "lost": {}}
    assert len(http_server.wait_for_requests(2)) == 2


def test_without_a_running_reactor_flush_and_close_do_not_hang(http_server: Any) -> None:
    result = run_child(CHILD, "no_reactor", dsn=twisted_dsn(http_server))

    assert result["flushed"] is False
    assert result["elapsed"] < 2.0  # not the 5 s asked for: nothing could move
    assert result["stats"]["sent"] == 0
    assert "reactor is not running" in result["stderr"]
    assert http_server.requests == []


def test_self_signed_server_is_rejected_by_default(https_server: Any) -> None:
    result = run_child(CHILD, "single", dsn=twisted_dsn(https_server), flush=1.0)

    # Nothing reached the server: the event waits for another try, until the close counts it.
    assert result["flushed"] is False
    assert result["close_is_deferred"] is True
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server.requests == []
    assert "failed (tls error" in result["stderr"]


def test_ca_certs_option_trusts_the_server(https_server: Any, ca_pem: str) -> None:
    result = run_child(CHILD, "single", dsn=twisted_dsn(https_server, f"ca_certs={ca_pem}"))

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)) == 1


def test_verify_ssl_0_accepts_the_self_signed_server(https_server: Any) -> None:
    result = run_child(CHILD, "single", dsn=twisted_dsn(https_server, "verify_ssl=0"))

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)) == 1


def test_wrong_hostname_is_rejected(https_server_wrong_host: Any, ca_pem: str) -> None:
    result = run_child(
        CHILD, "single", dsn=twisted_dsn(https_server_wrong_host, f"ca_certs={ca_pem}"), flush=1.0
    )

    assert result["flushed"] is False
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert https_server_wrong_host.requests == []
    assert "failed (tls error" in result["stderr"] and "Mismatch" in result["stderr"]


def test_timeout_against_a_silent_server_keeps_the_reactor_ticking(silent_server: Any) -> None:
    result = run_child(CHILD, "single", dsn=silent_server.dsn(scheme="twisted+http", query="timeout=0.5"))

    assert_timed_out_while_ticking(result, silent_server, 0.5)


def test_flush_on_the_reactor_thread_is_a_deferred_that_times_out(silent_server: Any) -> None:
    result = run_child(
        CHILD, "flush_timeout", dsn=silent_server.dsn(scheme="twisted+http", query="timeout=3")
    )

    assert result["is_deferred"] is True
    assert result["flushed"] is False
    assert result["elapsed"] < 2.5  # flush's 0.3 s, not the transport's 3 s timeout
    # close waits for the send to settle (the 3 s timeout), then the event is counted once.
    assert result["closed"] is True
    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}


def test_refused_connection_is_a_network_error(refused_dsn: Any) -> None:
    result = run_child(CHILD, "single", dsn=refused_dsn(scheme="twisted+http", query="timeout=2"), flush=1.0)

    assert result["flushed"] is False
    assert result["stats"] == {"sent": 0, "lost": {}}
    assert "failed (connect error" in result["stderr"]
    assert "trying again in 0.5 s" in result["stderr"]  # kept, and retried on the loop's timer
    assert result["closed_stats"] == {"sent": 0, "lost": {"network_error:error": 1}}


def test_429_with_rate_limits_stops_further_requests(http_server: Any) -> None:
    http_server.script(Answer(429, {"X-Sentry-Rate-Limits": "60:error:key", "Retry-After": "60"}))
    result = run_child(CHILD, "ratelimit", dsn=twisted_dsn(http_server))

    assert result["flush1"] is True and result["flush2"] is True
    assert result["stats"]["sent"] == 0
    assert result["stats"]["lost"] == {"ratelimit_backoff:error": 3}
    assert len(http_server.events()) == 1  # only the first event went out
    # The two drops reached the server in a client report sent by flush itself; the event the 429
    # refused is not in it (the server counted that one).
    assert http_server.discarded() == {"ratelimit_backoff:error": 2}


def test_reactor_is_not_blocked_while_capturing_1000_events(http_server: Any) -> None:
    result = run_child(CHILD, "stall", timeout=120, dsn=twisted_dsn(http_server), count=1000)

    assert result["flushed"] is True
    assert result["stats"] == {"sent": 1000, "lost": {}}
    assert len(http_server.events()) == 1000
    assert http_server.connections <= 4
    assert result["longest_stall"] < 1.0
    print(
        json.dumps(
            {
                "longest_stall_ms": round(result["longest_stall"] * 1000, 2),
                "events_per_second": round(result["events_per_second"]),
                "capture_seconds": round(result["capture_seconds"], 3),
            }
        )
    )


def test_unknown_option_is_invalid_dsn_naming_it(http_server: Any) -> None:
    result = run_child(CHILD, "options", dsn=twisted_dsn(http_server, "timeout=1&colour=blue"))

    assert result["error"] is not None
    assert result["error"].startswith("InvalidDsn") and "colour" in result["error"]


def test_bad_ca_certs_is_invalid_dsn(http_server: Any, tmp_path: Any) -> None:
    bogus = tmp_path / "not-a-bundle.pem"
    bogus.write_text("hello")
    result = run_child(CHILD, "options", dsn=twisted_dsn(http_server, f"ca_certs={bogus}"))

    assert result["error"] is not None and "ca_certs" in result["error"]


def test_missing_twisted_names_the_extra(http_server: Any) -> None:
    result = run_child(CHILD, "missing", dsn=twisted_dsn(http_server))

    assert result["error"] is not None
    assert result["error"].startswith("ConfigurationError")
    assert "pip install 'raven-ng[twisted]'" in result["error"]


def _wrapped(exc: BaseException, wrapper: str) -> BaseException:
    from twisted.python.failure import Failure as TwistedFailure
    from twisted.web import _newclient

    wrapper_cls = getattr(_newclient, wrapper)
    result: BaseException = wrapper_cls([TwistedFailure(exc)])
    return result


def test_failure_table() -> None:
    from OpenSSL import SSL
    from twisted.internet import defer, error

    from raven._delivery.model import FailureKind
    from raven.transport.twisted import classify_failure

    cases = [
        (error.ConnectionRefusedError(), FailureKind.CONNECT),
        (error.DNSLookupError("nowhere.invalid"), FailureKind.CONNECT),
        (error.TimeoutError(), FailureKind.TIMEOUT),
        (defer.TimeoutError(), FailureKind.TIMEOUT),
        (
            _wrapped(SSL.Error([("SSL routines", "", "certificate verify failed")]), "ResponseNeverReceived"),
            FailureKind.TLS,
        ),
        (_wrapped(error.ConnectionLost(), "ResponseNeverReceived"), FailureKind.READ),
        (_wrapped(error.ConnectionLost(), "ResponseFailed"), FailureKind.READ),
        (_wrapped(error.ConnectionDone(), "RequestTransmissionFailed"), FailureKind.READ),
        (RuntimeError("surprise"), FailureKind.OTHER),
    ]
    for exc, kind in cases:
        failure = classify_failure(exc)
        assert failure.kind is kind, (exc, failure)
        assert failure.detail
