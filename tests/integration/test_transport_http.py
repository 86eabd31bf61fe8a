"""The synchronous stdlib transport against real loopback servers, through the real delivery core."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

import pytest
from pipeline import (
    Pipeline,
    check_dropped_reused_connection_is_resent_once,
    check_keep_alive_one_connection,
    check_stale_keep_alive_is_replaced,
    transport_for,
)
from servers import Answer, LoopbackServer, RecordedRequest, SilentServer, TunnelProxy, make_item

from raven._delivery.model import Failure, FailureKind, Reply
from raven.exceptions import APIError, InvalidDsn, RateLimited
from raven.transport.http import HTTPTransport, TransportNetworkError
from raven.version import CLIENT_NAME

Build = Callable[..., Pipeline]


def sync(pipeline: Build, dsn: str, **kwargs: Any) -> Pipeline:
    return pipeline(dsn, HTTPTransport, **kwargs)


def test_delivers_envelope_with_headers(http_server: LoopbackServer, pipeline: Build) -> None:
    p = sync(pipeline, http_server.dsn(key="abc", project="42"))
    item = p.submit("first")
    (request,) = http_server.wait_for_requests(1)
    assert request.method == "POST"
    assert request.path == "/api/42/envelope/"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/x-sentry-envelope"
    assert request.headers["user-agent"] == CLIENT_NAME
    assert request.auth["sentry_version"] == "7"
    assert request.auth["sentry_key"] == "abc"
    assert request.auth["sentry_client"] == CLIENT_NAME
    header, items = request.envelope
    assert header["event_id"] == item.event_id
    assert [h["type"] for h, _ in items] == ["event"]
    assert json.loads(items[0][1])["event_id"] == item.event_id
    assert p.sent == 1


def test_dsn_path_prefix_is_kept(http_server: LoopbackServer, pipeline: Build) -> None:
    p = sync(pipeline, http_server.dsn(prefix="/sentry/prefix", project="7"))
    p.submit()
    (request,) = http_server.wait_for_requests(1)
    assert request.path == "/sentry/prefix/api/7/envelope/"


def test_keep_alive_one_connection(http_server: LoopbackServer, pipeline: Build) -> None:
    p = sync(pipeline, http_server.dsn())
    check_keep_alive_one_connection(http_server, p)


def test_stale_keep_alive_connection_is_replaced(http_server: LoopbackServer, pipeline: Build) -> None:
    check_stale_keep_alive_is_replaced(http_server, sync(pipeline, http_server.dsn()))


def test_dropped_reused_connection_is_resent_once(http_server: LoopbackServer, pipeline: Build) -> None:
    requests = check_dropped_reused_connection_is_resent_once(http_server, sync(pipeline, http_server.dsn()))
    assert requests[1].envelope[0]["event_id"] == requests[2].envelope[0]["event_id"]


def test_fresh_connection_dropped_is_not_resent(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(action="drop"))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    assert len(http_server.wait_for_requests(1)) == 1
    assert p.lost("network_error:error") == 1
    p.wait_out_pause()  # no HTTP answer: the transport pauses (its caller would wait otherwise)
    p.submit()
    assert len(http_server.wait_for_requests(2)) == 2
    assert p.sent == 1


# -- TLS


def test_tls_default_verification_rejects_unknown_ca(https_server: LoopbackServer) -> None:
    transport = transport_for(HTTPTransport, https_server.dsn())
    with pytest.raises(TransportNetworkError) as caught:
        transport.send(https_server.url + "/api/1/envelope/", b"{}", {})
    assert caught.value.failure.kind is FailureKind.TLS
    assert https_server.requests == []


def test_tls_with_ca_certs_accepts(https_server: LoopbackServer, ca_pem: str, pipeline: Build) -> None:
    p = sync(pipeline, https_server.dsn(query=f"ca_certs={ca_pem}"))
    for _ in range(3):
        p.submit()
    requests = https_server.wait_for_requests(3)
    assert p.sent == 3
    assert https_server.connections == 1 and {r.connection_id for r in requests} == {1}


def test_tls_localhost_name_checked_and_accepted(
    https_server: LoopbackServer, ca_pem: str, pipeline: Build
) -> None:
    p = sync(pipeline, https_server.dsn(host="localhost", query=f"ca_certs={ca_pem}"))
    p.submit()
    https_server.wait_for_requests(1)
    assert p.sent == 1


def test_tls_wrong_hostname_rejected(
    https_server_wrong_host: LoopbackServer, ca_pem: str, pipeline: Build, error_log: pytest.LogCaptureFixture
) -> None:
    p = sync(pipeline, https_server_wrong_host.dsn(query=f"ca_certs={ca_pem}"))
    p.submit()
    assert p.lost("network_error:error") == 1
    assert https_server_wrong_host.requests == []
    assert any("tls" in r.getMessage().lower() for r in error_log.records if r.name == "sentry.errors")


def test_tls_verify_ssl_0_accepts(https_server_wrong_host: LoopbackServer, pipeline: Build) -> None:
    p = sync(pipeline, https_server_wrong_host.dsn(query="verify_ssl=0"))
    p.submit()
    https_server_wrong_host.wait_for_requests(1)
    assert p.sent == 1


def test_invalid_ca_bundle_is_invalid_dsn(tmp_path: Any, http_server: LoopbackServer) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InvalidDsn, match="ca_certs"):
        transport_for(HTTPTransport, http_server.dsn(query=f"ca_certs={bad}"))


# -- timeouts and network failures


def test_timeout_against_silent_server(silent_server: SilentServer, pipeline: Build) -> None:
    p = sync(pipeline, silent_server.dsn(query="timeout=0.5"))
    started = time.monotonic()
    p.submit()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert p.lost("network_error:error") == 1
    silent_server.wait_for_connections(1)


def test_timeout_failure_kind(silent_server: SilentServer) -> None:
    transport = transport_for(HTTPTransport, silent_server.dsn(query="timeout=0.3"))
    with pytest.raises(TransportNetworkError) as caught:
        transport.send(silent_server.url + "/api/1/envelope/", b"{}", {})
    assert caught.value.failure.kind is FailureKind.TIMEOUT


def test_connection_refused(refused_dsn: Callable[..., str], pipeline: Build) -> None:
    p = sync(pipeline, refused_dsn())
    p.submit()
    assert p.lost("network_error:error") == 1
    with pytest.raises(TransportNetworkError) as caught:
        p.transport.send(p.dsn.envelope_url, b"{}", {})
    assert caught.value.failure.kind is FailureKind.CONNECT


@pytest.mark.parametrize("action", ["reset", "drop", "reset_in_headers"])
def test_broken_replies_are_network_errors(http_server: LoopbackServer, pipeline: Build, action: str) -> None:
    http_server.script(Answer(action=action))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    assert p.lost("network_error:error") == 1
    p.submit()  # during the pause that follows: dropped at once, the caller does not wait
    assert p.lost("network_error:error") == 2 and len(http_server.requests) == 1
    p.wait_out_pause()
    p.submit()  # after it: a fresh connection
    requests = http_server.wait_for_requests(2)
    assert p.sent == 1
    assert requests[1].connection_id == 2


@pytest.mark.parametrize("action", ["reset_mid_reply", "close_mid_reply"])
@pytest.mark.parametrize("status, lost", [(200, None), (500, "send_error:error")])
def test_reply_broken_after_headers_counts_the_status(
    http_server: LoopbackServer, pipeline: Build, action: str, status: int, lost: Optional[str]
) -> None:
    # The status line and headers arrived: the server decided; a truncated body costs the connection.
    http_server.script(Answer(status, action=action))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    assert p.sent == (1 if lost is None else 0)
    if lost is not None:
        assert p.lost(lost) == 1
    p.submit()
    requests = http_server.wait_for_requests(2)
    assert requests[1].connection_id == 2


# -- server answers


def test_429_with_rate_limits_header_stops_errors(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(429, {"X-Sentry-Rate-Limits": "60:error:organization"}))
    p = sync(pipeline, http_server.dsn())
    for _ in range(5):
        p.submit()
    assert len(http_server.requests) == 1
    assert p.lost("ratelimit_backoff:error") == 5


def test_transaction_limit_on_200_does_not_stop_errors(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.default = Answer(200, {"X-Sentry-Rate-Limits": "86400:transaction;span:organization"})
    p = sync(pipeline, http_server.dsn())
    for _ in range(5):
        p.submit()
    assert len(http_server.wait_for_requests(5)) == 5
    assert p.sent == 5


def test_bare_429_stops_everything(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(429))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    p.submit()
    p.submit(category="transaction")
    assert len(http_server.requests) == 1
    assert p.lost("ratelimit_backoff:error") == 2
    assert p.lost("ratelimit_backoff:transaction") == 1


def test_retry_after_limit_expires(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(429, {"Retry-After": "1"}))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    p.submit()
    assert len(http_server.requests) == 1
    assert p.lost("ratelimit_backoff:error") == 2
    deadline = time.monotonic() + 5
    while p.core.rate_limits.is_limited("error", time.monotonic()):
        assert time.monotonic() < deadline, "the 1 s limit did not expire"
        time.sleep(0.05)
    p.submit()
    http_server.wait_for_requests(2)
    assert p.sent == 1


def test_413_dropped_not_retried(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(413))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    assert p.lost("send_error:error") == 1
    p.submit()
    assert len(http_server.wait_for_requests(2)) == 2
    assert p.sent == 1


def test_500_is_send_error_and_logged(
    http_server: LoopbackServer, pipeline: Build, error_log: pytest.LogCaptureFixture
) -> None:
    http_server.script(Answer(500, {"X-Sentry-Error": "boom"}))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    assert p.lost("send_error:error") == 1
    messages = [r.getMessage() for r in error_log.records if r.name == "sentry.errors"]
    assert any("500" in m and "boom" in m for m in messages)


def _envelope_404(request: RecordedRequest) -> Optional[Answer]:
    return Answer(404, body=b"not found") if request.is_envelope else None


def test_404_envelope_falls_back_to_store(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.responder = _envelope_404
    p = sync(pipeline, http_server.dsn(prefix="/pre"))
    item = p.submit()
    requests = http_server.wait_for_requests(2)
    assert requests[0].path == "/pre/api/1/envelope/"
    assert requests[1].path == "/pre/api/1/store/"
    assert requests[1].json()["event_id"] == item.event_id
    assert p.sent == 1
    p.submit()  # later events go straight to /store/
    assert http_server.wait_for_requests(3)[2].is_store


def test_client_report_attached_after_losses(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(500))
    p = sync(pipeline, http_server.dsn())
    p.submit()
    p.submit()
    requests = http_server.wait_for_requests(2)
    (report,) = requests[1].items_of_type("client_report")
    assert {"reason": "send_error", "category": "error", "quantity": 1} in report["discarded_events"]


# -- the transport's own API (raven 6.10)


def _requests_transport() -> type:
    pytest.importorskip("requests")
    from raven.transport.requests import RequestsHTTPTransport

    return RequestsHTTPTransport


@pytest.mark.parametrize("load", [lambda: HTTPTransport, _requests_transport], ids=["http", "requests"])
def test_send_raises_like_raven_6(load: Callable[[], type], http_server: LoopbackServer) -> None:
    transport = load()(timeout="1.5", verify_ssl="true")
    assert transport.timeout == 1.5 and transport.verify_ssl is True
    url = http_server.url + "/api/1/envelope/"
    http_server.script(Answer(429, {"Retry-After": "30"}), Answer(403, {"X-Sentry-Error": "bad key"}))
    try:
        with pytest.raises(RateLimited) as limited:
            transport.send(url, b"{}", {})
        assert limited.value.retry_after == 30 and isinstance(limited.value.reply, Reply)  # type: ignore[attr-defined]
        with pytest.raises(APIError) as refused:
            transport.send(url, b"{}", {})
        assert refused.value.code == 403 and str(refused.value) == "bad key"
        assert transport.send(url, b"{}", {}).status == 200
    finally:
        transport.close()


def test_network_error_is_oserror_with_failure(refused_address: tuple[str, int]) -> None:
    host, port = refused_address
    with pytest.raises(OSError) as caught:
        HTTPTransport().send(f"http://{host}:{port}/api/1/envelope/", b"{}", {})
    assert isinstance(getattr(caught.value, "failure", None), Failure)


def test_raise_send_errors(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.script(Answer(500))
    p = sync(pipeline, http_server.dsn(), raise_send_errors=True)
    with pytest.raises(APIError):
        p.dispatcher.submit(make_item())
    assert p.lost("send_error:error") == 1
    p.dispatcher.submit(make_item())
    assert p.sent == 1


@pytest.mark.parametrize(
    "query, option",
    [
        ("timeout=abc", "timeout"),
        ("verify_ssl=maybe", "verify_ssl"),
        ("colour=red", "colour"),
        ("queue_size=5", "queue_size"),
    ],
)
def test_bad_options_are_invalid_dsn(http_server: LoopbackServer, query: str, option: str) -> None:
    with pytest.raises(InvalidDsn, match=option):
        transport_for(HTTPTransport, http_server.dsn(query=query))


def test_options_from_querystring(http_server: LoopbackServer) -> None:
    transport = transport_for(HTTPTransport, http_server.dsn(query="timeout=2.5&verify_ssl=no"))
    assert transport.options.timeout == 2.5 and transport.options.verify_ssl is False


def test_forwarding_proxy_from_environment(
    http_server: LoopbackServer, pipeline: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server plays the proxy: a plain-HTTP request through a proxy carries the full URL.
    monkeypatch.setenv("http_proxy", f"http://user:pw@127.0.0.1:{http_server.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    p = sync(pipeline, "http://public@sentry.invalid/5")
    p.submit()
    (request,) = http_server.wait_for_requests(1)
    assert request.path == "http://sentry.invalid/api/5/envelope/"
    assert request.headers["host"] == "sentry.invalid"
    assert request.headers["proxy-authorization"] == "Basic dXNlcjpwdw=="
    assert p.sent == 1


def test_https_through_tunnel_proxy_from_environment(
    https_server: LoopbackServer, ca_pem: str, pipeline: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TunnelProxy() as proxy:
        monkeypatch.setenv("https_proxy", f"http://user:pw@127.0.0.1:{proxy.port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        p = sync(pipeline, https_server.dsn(host="localhost", query=f"ca_certs={ca_pem}"))
        p.submit()
        p.submit()
        https_server.wait_for_requests(2)
        assert p.sent == 2
        assert proxy.connects == [
            (f"localhost:{https_server.port}", "Basic dXNlcjpwdw==")
        ]  # one tunnel, reused
        assert https_server.connections == 1
