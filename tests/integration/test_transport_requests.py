"""The requests-based transports (sync and threaded) against real loopback servers.

They run in threads (no event loop), so they run in-process, except the "library missing" case,
which needs an interpreter where ``requests`` cannot be imported.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from pipeline import (
    HOOKS_OFF,
    Clients,
    Pipeline,
    check_dropped_reused_connection_is_resent_once,
    check_keep_alive_one_connection,
    check_stale_keep_alive_is_replaced,
    normalizer_errors,
    transport_for,
)
from servers import Answer, LoopbackServer, SilentServer

from raven import Client
from raven._delivery.model import FailureKind
from raven.exceptions import InvalidDsn
from raven.transport.http import TransportNetworkError
from raven.transport.requests import RequestsHTTPTransport
from raven.transport.threaded_requests import ThreadedRequestsHTTPTransport
from raven.version import CLIENT_NAME

pytest.importorskip("requests")

Build = Callable[..., Pipeline]
TRANSPORTS = [RequestsHTTPTransport, ThreadedRequestsHTTPTransport]
by_name = pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.__name__)


def settle(p: Pipeline) -> None:
    """Wait until everything submitted is settled (a no-op for the sync transport)."""
    assert p.flush(10)


def event_requests(server: LoopbackServer) -> list[Any]:
    return [r for r in server.requests if r.events()]


@pytest.fixture
def make_client() -> Iterator[Clients]:
    clients = Clients()
    yield clients
    clients.close_all()


# -- delivery through the Client


@by_name
def test_client_delivers_message_and_exception(
    http_server: LoopbackServer, make_client: Any, transport: type
) -> None:
    client = make_client(http_server.dsn(key="abc", project="42"), transport=transport, release="1.0")
    message_id = client.captureMessage("hello %s", params=("requests",), level=logging.WARNING)
    try:
        raise ValueError("boom")
    except ValueError:
        exception_id = client.captureException()
    assert client.flush(10)
    requests = http_server.wait_for_requests(2)
    for request in requests:
        assert request.is_envelope and request.path == "/api/42/envelope/"
        assert request.headers["content-encoding"] == "gzip"
        assert request.headers["content-type"] == "application/x-sentry-envelope"
        assert request.headers["user-agent"] == CLIENT_NAME
        assert "python-requests" not in str(request.headers)
        assert request.auth["sentry_key"] == "abc" and request.auth["sentry_version"] == "7"
    events = {e["event_id"]: e for e in http_server.events()}
    assert set(events) == {message_id, exception_id}
    assert events[message_id]["logentry"]["formatted"] == "hello requests"
    (exc,) = events[exception_id]["exception"]["values"]
    assert exc["type"] == "ValueError" and exc["value"] == "boom"
    for event in events.values():
        assert normalizer_errors(event) is None
    assert client.delivery_stats()["sent"] == 2


@by_name
@pytest.mark.filterwarnings("ignore:Transport selection via DSN is deprecated")
def test_selected_by_dsn_scheme(http_server: LoopbackServer, make_client: Any, transport: type) -> None:
    scheme = transport.scheme[0].rsplit("+", 1)[0]  # type: ignore[attr-defined]
    dsn = http_server.dsn().replace("http://", f"{scheme}+http://", 1)
    client = make_client(dsn)
    assert type(client.remote.get_transport()) is transport
    client.captureMessage("via scheme")
    assert client.flush(10)
    assert len(http_server.wait_for_requests(1)) == 1


# -- connections


def test_sync_keep_alive_one_connection(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(), RequestsHTTPTransport)
    check_keep_alive_one_connection(http_server, p)


def test_threaded_keep_alive(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(query="max_connections=1"), ThreadedRequestsHTTPTransport)
    for i in range(20):
        p.submit(f"event {i}")
    settle(p)
    http_server.wait_for_requests(20)
    assert http_server.connections == 1
    assert p.sent == 20


def test_stale_keep_alive_connection_is_replaced(http_server: LoopbackServer, pipeline: Build) -> None:
    check_stale_keep_alive_is_replaced(http_server, pipeline(http_server.dsn(), RequestsHTTPTransport))


def test_dropped_reused_connection_is_resent_once(http_server: LoopbackServer, pipeline: Build) -> None:
    check_dropped_reused_connection_is_resent_once(
        http_server, pipeline(http_server.dsn(), RequestsHTTPTransport)
    )


@pytest.mark.parametrize("action", ["reset", "drop"])
def test_fresh_connection_broken_is_network_error(
    http_server: LoopbackServer, pipeline: Build, action: str
) -> None:
    http_server.script(Answer(action=action))
    p = pipeline(http_server.dsn(), RequestsHTTPTransport)
    p.submit()
    assert p.lost("network_error:error") == 1
    assert len(http_server.requests) == 1
    p.wait_out_pause()  # no HTTP answer: the transport pauses (its caller would wait otherwise)
    p.submit()
    assert len(http_server.wait_for_requests(2)) == 2 and p.sent == 1


# -- TLS


@by_name
def test_tls_unknown_ca_rejected_by_default(
    https_server: LoopbackServer, pipeline: Build, transport: type
) -> None:
    p = pipeline(https_server.dsn(), transport)
    p.submit()
    p.close(1.0)  # the threaded transport keeps the event for another try; the close counts it
    assert p.lost("network_error:error") == 1
    assert https_server.requests == []
    https_server.wait_for_connections(1)  # a handshake was tried


@by_name
def test_tls_ca_certs_accepted(
    https_server: LoopbackServer, ca_pem: str, pipeline: Build, transport: type
) -> None:
    one = "&max_connections=1" if transport is ThreadedRequestsHTTPTransport else ""
    p = pipeline(https_server.dsn(query=f"ca_certs={ca_pem}{one}"), transport)
    for _ in range(3):
        p.submit()
    settle(p)
    https_server.wait_for_requests(3)
    assert p.sent == 3 and https_server.connections == 1


@by_name
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verify_ssl_0_accepted(
    https_server_wrong_host: LoopbackServer, pipeline: Build, transport: type
) -> None:
    p = pipeline(https_server_wrong_host.dsn(query="verify_ssl=0"), transport)
    p.submit()
    settle(p)
    https_server_wrong_host.wait_for_requests(1)
    assert p.sent == 1


@by_name
def test_tls_wrong_hostname_rejected(
    https_server_wrong_host: LoopbackServer, ca_pem: str, pipeline: Build, transport: type
) -> None:
    p = pipeline(https_server_wrong_host.dsn(query=f"ca_certs={ca_pem}"), transport)
    p.submit()
    p.close(1.0)  # the threaded transport keeps the event for another try; the close counts it
    assert p.lost("network_error:error") == 1
    assert https_server_wrong_host.requests == []
    https_server_wrong_host.wait_for_connections(1)  # a handshake was tried


def test_tls_failure_kind(https_server: LoopbackServer) -> None:
    transport = transport_for(RequestsHTTPTransport, https_server.dsn())
    with pytest.raises(TransportNetworkError) as caught:
        transport.send(https_server.url + "/api/1/envelope/", b"{}", {})
    assert caught.value.failure.kind is FailureKind.TLS


# -- timeouts and refused connections


def test_sync_timeout_against_silent_server(silent_server: SilentServer, pipeline: Build) -> None:
    p = pipeline(silent_server.dsn(query="timeout=0.5"), RequestsHTTPTransport)
    started = time.monotonic()
    p.submit()
    assert time.monotonic() - started < 5.0  # generous: the timeout is 0.5 s
    assert p.lost("network_error:error") == 1
    silent_server.wait_for_connections(1)
    with pytest.raises(TransportNetworkError) as caught:
        p.transport.send(silent_server.url + "/api/1/envelope/", b"{}", {})
    assert caught.value.failure.kind is FailureKind.TIMEOUT


def test_threaded_caller_does_not_wait(silent_server: SilentServer, pipeline: Build) -> None:
    p = pipeline(silent_server.dsn(query="timeout=0.5"), ThreadedRequestsHTTPTransport)
    started = time.monotonic()
    p.submit()
    assert time.monotonic() - started < 0.25  # generous: queueing only, no network wait
    silent_server.wait_for_connections(1)
    settle(p)
    assert p.lost("network_error:error") == 1


def test_connection_refused_is_connect_failure(refused_dsn: Callable[..., str], pipeline: Build) -> None:
    p = pipeline(refused_dsn(), RequestsHTTPTransport)
    p.submit()
    assert p.lost("network_error:error") == 1
    with pytest.raises(TransportNetworkError) as caught:
        p.transport.send(p.dsn.envelope_url, b"{}", {})
    assert caught.value.failure.kind is FailureKind.CONNECT


# -- server answers


@by_name
def test_429_with_rate_limits_stops_requests(
    http_server: LoopbackServer, pipeline: Build, transport: type
) -> None:
    http_server.script(Answer(429, {"X-Sentry-Rate-Limits": "60:error:organization"}))
    p = pipeline(http_server.dsn(), transport)
    p.submit()
    settle(p)
    for _ in range(4):
        p.submit()
    settle(p)
    assert len(event_requests(http_server)) == 1  # flush may still send a client report
    assert p.lost("ratelimit_backoff:error") == 5


@by_name
@pytest.mark.parametrize("status", [500, 413])
def test_error_status_is_send_error(
    http_server: LoopbackServer, pipeline: Build, transport: type, status: int
) -> None:
    http_server.script(Answer(status, {"X-Sentry-Error": "nope"}))
    p = pipeline(http_server.dsn(), transport)
    p.submit()
    settle(p)
    assert p.lost("send_error:error") == 1
    p.submit()
    settle(p)
    assert len(event_requests(http_server)) == 2
    assert p.sent == 1


def test_large_reply_body_is_bounded(http_server: LoopbackServer) -> None:
    http_server.script(Answer(200, body=b"x" * (256 * 1024)))
    transport = RequestsHTTPTransport()
    reply = transport.send(http_server.url + "/api/1/envelope/", b"{}", {})
    assert reply.status == 200 and len(reply.body) <= 64 * 1024
    assert transport.send(http_server.url + "/api/1/envelope/", b"{}", {}).status == 200
    assert http_server.connections == 2  # the unread rest cost the first connection
    transport.close()


# -- options


@by_name
@pytest.mark.parametrize("query, option", [("colour=red", "colour"), ("timeout=abc", "timeout")])
def test_bad_option_is_invalid_dsn(
    http_server: LoopbackServer, transport: type, query: str, option: str
) -> None:
    with pytest.raises(InvalidDsn, match=option):
        transport_for(transport, http_server.dsn(query=query))


def test_queue_options_only_for_threaded(http_server: LoopbackServer) -> None:
    with pytest.raises(InvalidDsn, match="queue_size"):
        transport_for(RequestsHTTPTransport, http_server.dsn(query="queue_size=5"))
    threaded = transport_for(ThreadedRequestsHTTPTransport, http_server.dsn(query="queue_size=5"))
    assert threaded.options.queue_size == 5


@pytest.mark.filterwarnings("ignore:Transport selection via DSN is deprecated")
def test_unknown_option_via_client_is_invalid_dsn(http_server: LoopbackServer) -> None:
    dsn = http_server.dsn(query="colour=red").replace("http://", "requests+http://", 1)
    with pytest.raises(InvalidDsn, match="colour"):
        Client(dsn, **HOOKS_OFF)


# -- requests not installed


_MISSING = """
import sys
sys.modules["requests"] = None
import raven
from raven.exceptions import ConfigurationError
assert "requests" not in [m for m in sys.modules if sys.modules[m] is not None]
for scheme in ("requests+http", "threaded+requests+http"):
    try:
        raven.Client(scheme + "://public@127.0.0.1:9/1", install_sys_hook=False, install_logging_hook=False)
    except ConfigurationError as exc:
        print(type(exc).__name__, exc)
    else:
        print("no error")
"""


def test_missing_library_names_the_extra() -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("SENTRY_DSN", None)
    proc = subprocess.run(
        [sys.executable, "-c", _MISSING],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stdout
    for line in lines:
        assert "ConfigurationError" in line
        assert "pip install 'raven-ng[requests]'" in line
