"""The test servers themselves behave as the transport tests assume."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import ssl
from typing import Any

import pytest
from servers import Answer, LoopbackServer, SilentServer, parse_envelope


def _post(
    conn: http.client.HTTPConnection, path: str, body: bytes, **headers: str
) -> http.client.HTTPResponse:
    conn.request("POST", path, body=body, headers=headers)
    return conn.getresponse()


def test_records_and_keeps_alive(http_server: LoopbackServer) -> None:
    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=5)
    envelope = b'{"event_id":"a"}\n{"type":"event","length":2}\n{}\n{"type":"client_report"}\n{"x":1}\n'
    for _ in range(3):
        reply = _post(conn, "/api/1/envelope/", gzip.compress(envelope), **{"Content-Encoding": "gzip"})
        assert reply.status == 200
        reply.read()
    conn.close()
    requests = http_server.wait_for_requests(3)
    assert http_server.connections == 1
    assert {r.connection_id for r in requests} == {1}
    header, items = requests[0].envelope
    assert header == {"event_id": "a"}
    assert items == [({"type": "event", "length": 2}, b"{}"), ({"type": "client_report"}, b'{"x":1}')]
    assert requests[0].is_envelope and requests[0].items_of_type("client_report") == [{"x": 1}]


def test_scripted_answers(http_server: LoopbackServer) -> None:
    http_server.script(Answer(429, {"Retry-After": "7"}), Answer(action="drop"), Answer(action="reset"))
    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=5)
    reply = _post(conn, "/x", b"1")
    assert reply.status == 429 and reply.getheader("retry-after") == "7"
    reply.read()
    with pytest.raises(http.client.RemoteDisconnected):
        _post(conn, "/x", b"2")
    conn.close()
    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=5)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        _post(conn, "/x", b"3")
    conn.close()
    http_server.script(Answer(action="close_mid_reply"))
    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=5)
    with pytest.raises(http.client.IncompleteRead):
        _post(conn, "/x", b"4").read()
    conn.close()
    assert len(http_server.wait_for_requests(4)) == 4


def test_hang_is_released_at_stop() -> None:
    server = LoopbackServer().start()
    server.default = Answer(action="hang")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=0.3)
    with pytest.raises(socket.timeout):
        _post(conn, "/x", b"")
    server.stop()
    conn.close()


def test_tls(https_server: LoopbackServer, https_server_wrong_host: LoopbackServer, ca_pem: str) -> None:
    context = ssl.create_default_context(cafile=ca_pem)
    conn = http.client.HTTPSConnection(https_server.host, https_server.port, timeout=5, context=context)
    assert _post(conn, "/x", b"{}").status == 200
    conn.close()
    conn = http.client.HTTPSConnection(
        https_server_wrong_host.host, https_server_wrong_host.port, timeout=5, context=context
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        _post(conn, "/x", b"{}")
    conn.close()


def test_silent_and_refused(silent_server: SilentServer, refused_address: tuple[str, int]) -> None:
    with socket.create_connection((silent_server.host, silent_server.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1)
    silent_server.wait_for_connections(1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(refused_address, timeout=5)


def test_parse_envelope_without_lengths() -> None:
    body = b'{"a":1}\n{"type":"event"}\n{"b":2}\n'
    header, items = parse_envelope(body)
    payload: Any = json.loads(items[0][1])
    assert header == {"a": 1} and payload == {"b": 2}
