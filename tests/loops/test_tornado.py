"""TornadoHTTPTransport inside a running IOLoop (``run_sync``): the asyncio cases of
test_asyncio.py with Tornado's child, plus Tornado's own option names."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import run_child  # noqa: E402
from test_asyncio import (  # noqa: E402, F401  (imported cases run here with the tornado family)
    Family,
    test_429_with_rate_limits_stops_further_requests,
    test_a_loop_closed_with_our_tasks_pending_is_quiet,
    test_ca_certs_option_trusts_the_server,
    test_captures_from_other_threads_and_a_blocking_flush_off_the_loop,
    test_client_created_and_capturing_before_the_loop_starts,
    test_delivers_message_and_exception_in_a_running_loop,
    test_loop_is_not_blocked_while_capturing_1000_events,
    test_missing_library_names_the_extra,
    test_pending_events_are_delivered_at_exit_without_a_loop,
    test_pending_events_are_delivered_when_the_loop_shuts_down,
    test_posts_in_flight_when_the_loop_shuts_down_are_completed,
    test_refused_connection_is_a_network_error,
    test_self_signed_server_is_rejected_by_default,
    test_timeout_against_a_silent_server_keeps_the_loop_ticking,
    test_unknown_option_is_invalid_dsn_naming_it,
    test_verify_ssl_0_accepts_the_self_signed_server,
    test_wrong_hostname_is_rejected,
)

CHILD = "tornado_child.py"


@pytest.fixture
def family() -> Family:
    pytest.importorskip("tornado.httpclient")
    # request_timeout: Tornado's name for the whole-request timeout (an alias of ``timeout``).
    # The default SimpleAsyncHTTPClient has no keep-alive (one connection per request).
    return Family(CHILD, "tornado", "tornado", timeout_option="request_timeout", keeps_alive=False)


def test_validate_cert_0_accepts_the_self_signed_server(family: Family, https_server: Any) -> None:
    result = run_child(CHILD, "single", dsn=family.dsn(https_server, "validate_cert=0"))

    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(https_server.wait_for_requests(1)) == 1


def test_connect_timeout_against_a_silent_server(family: Family, silent_server: Any) -> None:
    dsn = silent_server.dsn(scheme="tornado+http", query="connect_timeout=0.3&request_timeout=0.5")
    result = run_child(CHILD, "single", dsn=dsn)

    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert result["elapsed"] < 0.5 + 2.0
    assert result["ticks"] >= 10


@pytest.mark.parametrize("query", ["", "ca_certs"])
def test_sends_with_the_client_implementation_the_application_configured(
    family: Family, http_server: Any, https_server: Any, ca_pem: str, query: str
) -> None:
    # An implementation that is not the simple client (as the curl one): no ssl_options for it.
    server = https_server if query else http_server
    dsn = family.dsn(server, f"ca_certs={ca_pem}" if query else "")
    result = run_child(CHILD, "configured_client", dsn=dsn)

    assert result["flushed"] is True
    assert result["fetched"] == 1
    assert result["stats"] == {"sent": 1, "lost": {}}
    assert len(server.wait_for_requests(1)) == 1


@pytest.mark.parametrize("query", ["connect_timeout=soon", "validate_cert=maybe", "request_timeout=-1"])
def test_bad_tornado_option_value_is_invalid_dsn_naming_it(
    family: Family, http_server: Any, query: str
) -> None:
    result = run_child(CHILD, "unknown_option", dsn=family.dsn(http_server, query))

    name = query.split("=")[0]
    assert result["error"].startswith("InvalidDsn") and repr(name) in result["error"]


def test_tornado_failure_table() -> None:
    pytest.importorskip("tornado.httpclient")
    import ssl

    from tornado import httpclient, iostream, netutil, simple_httpclient, util

    from raven._delivery.dsn import TransportOptions
    from raven._delivery.model import FailureKind
    from raven.transport.tornado import _TornadoPoster

    modules = {
        "httpclient": httpclient,
        "simple_httpclient": simple_httpclient,
        "iostream": iostream,
        "netutil": netutil,
        "util": util,
    }
    poster = _TornadoPoster.__new__(_TornadoPoster)
    from raven.transport.tornado import _failure_table

    poster._table = _failure_table(modules)

    def kind(exc: BaseException) -> FailureKind:
        return poster._classify(exc).kind

    assert kind(simple_httpclient.HTTPTimeoutError("Timeout while connecting")) is FailureKind.TIMEOUT
    assert kind(simple_httpclient.HTTPStreamClosedError("Stream closed")) is FailureKind.READ
    assert kind(iostream.StreamClosedError(real_error=ConnectionResetError(104, "reset"))) is FailureKind.READ
    assert kind(ssl.SSLCertVerificationError(1, "certificate verify failed")) is FailureKind.TLS
    assert kind(ConnectionRefusedError(111, "refused")) is FailureKind.CONNECT
    assert kind(httpclient.HTTPClientError(599, "curl error")) is FailureKind.OTHER
    assert TransportOptions().timeout == 1.0
