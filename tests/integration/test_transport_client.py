"""The transports as users meet them: through ``raven.Client``."""

from __future__ import annotations

import time
import warnings

import pytest
from servers import Answer, LoopbackServer, SilentServer

from raven import Client
from raven.exceptions import APIError, InvalidDsn
from raven.transport.http import HTTPTransport
from raven.transport.threaded import ThreadedHTTPTransport


def test_default_transport_is_threaded(http_server: LoopbackServer) -> None:
    client = Client(http_server.dsn(prefix="/pre"))
    try:
        assert isinstance(client.remote.get_transport(), ThreadedHTTPTransport)
        event_id = client.captureMessage("hello")
        assert client.flush(5)
        (event,) = http_server.events()
        assert event["event_id"] == event_id
        assert http_server.requests[0].path == "/pre/api/1/envelope/"
    finally:
        client.close(1)


def test_sync_scheme_selects_http_transport(http_server: LoopbackServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = Client(http_server.dsn(scheme="sync+http"))
    try:
        assert type(client.remote.get_transport()) is HTTPTransport
        client.captureMessage("hello")
        assert len(http_server.events()) == 1  # sent on the caller's thread: already there
    finally:
        client.close(1)


@pytest.mark.parametrize("query", ["timeout=abc", "verify_ssl=maybe", "bogus=1"])
def test_bad_option_fails_at_construction(http_server: LoopbackServer, query: str) -> None:
    with pytest.raises(InvalidDsn, match=query.split("=")[0]):
        Client(http_server.dsn(query=query))


def test_capture_does_not_wait_on_silent_server(silent_server: SilentServer) -> None:
    client = Client(silent_server.dsn(query="timeout=2"))
    try:
        started = time.monotonic()
        for _ in range(5):
            client.captureMessage("hello")
        assert time.monotonic() - started < 1.5
    finally:
        client.close(0)


def test_raise_send_errors_with_sync_transport(http_server: LoopbackServer) -> None:
    http_server.script(Answer(500, {"X-Sentry-Error": "broken"}))
    client = Client(http_server.dsn(), transport=HTTPTransport, raise_send_errors=True)
    try:
        with pytest.raises(APIError, match="broken"):
            client.captureMessage("hello")
        client.captureMessage("again")
        assert len(http_server.events()) == 2
    finally:
        client.close(1)
