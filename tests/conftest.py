"""Shared fixtures: loopback HTTP(S) servers, a throw-away CA, fault servers, event items.

Every server a fixture starts is stopped at teardown. See ``tests/servers.py`` for the API
(``server.dsn()``, ``server.script(Answer(...))``, ``server.wait_for_requests(n)`` ...).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from pipeline import Pipeline  # noqa: E402
from servers import (  # noqa: E402
    LoopbackServer,
    SilentServer,
    make_event,
    make_item,
    refused_port,
    server_tls_context,
)


@pytest.fixture(autouse=True)
def _reset_rate_limited_logs() -> Iterator[None]:
    # The library's rate-limited logger remembers keys across tests; start every test fresh.
    yield
    try:
        from raven._runtime import logs
    except ImportError:
        return
    reset = getattr(logs, "reset", None)
    if reset is not None:
        reset()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A plain HTTP/1.1 keep-alive server on 127.0.0.1, answering 200 unless scripted."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="session")
def tls_ca() -> Any:
    """A throw-away certificate authority (trustme)."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(tls_ca: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of the throw-away CA's certificate, for ``?ca_certs=``."""
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_server(tls_ca: Any) -> Iterator[LoopbackServer]:
    """An HTTPS server whose certificate (from ``tls_ca``) is valid for 127.0.0.1 and localhost."""
    with LoopbackServer(tls_context=server_tls_context(tls_ca, "127.0.0.1", "localhost")) as server:
        yield server


@pytest.fixture
def https_server_wrong_host(tls_ca: Any) -> Iterator[LoopbackServer]:
    """An HTTPS server on 127.0.0.1 whose certificate (trusted CA) names another host only."""
    with LoopbackServer(tls_context=server_tls_context(tls_ca, "sentry.other.invalid")) as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """Accepts connections and never answers."""
    with SilentServer() as server:
        yield server


@pytest.fixture
def refused_address() -> Iterator[tuple[str, int]]:
    """``(host, port)`` where connections are refused."""
    sock = refused_port()
    try:
        host, port = sock.getsockname()[:2]
        yield str(host), int(port)
    finally:
        sock.close()


@pytest.fixture
def refused_dsn(refused_address: tuple[str, int]) -> Callable[..., str]:
    """``refused_dsn(query="timeout=0.5")``: a DSN pointing at the refused address."""
    host, port = refused_address

    def build(query: str = "", scheme: str = "http", project: str = "1") -> str:
        tail = f"?{query}" if query else ""
        return f"{scheme}://public@{host}:{port}/{project}{tail}"

    return build


@pytest.fixture
def event_factory() -> Callable[..., dict[str, Any]]:
    """``event_factory(message, level=..., **fields)``: a minimal valid event dict."""
    return make_event


@pytest.fixture
def item_factory() -> Callable[..., Any]:
    """``item_factory(message, category="error")``: an EventItem with a minimal valid event."""
    return make_item


@pytest.fixture
def in_memory_client() -> Iterator[Any]:
    """raven 6.10's ``InMemoryClient`` (what ``send`` gets is kept in ``.events``), hooks off."""
    from raven.utils.testutils import InMemoryClient

    client = InMemoryClient(install_sys_hook=False, install_logging_hook=False, hook_libraries=())
    yield client
    client.close(timeout=0)


@pytest.fixture
def error_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog capturing the library's diagnostics loggers at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="raven")
    caplog.set_level(logging.DEBUG, logger="sentry")
    return caplog


@pytest.fixture
def pipeline() -> Iterator[Callable[..., Pipeline]]:
    """``pipeline(dsn, TransportClass)``: a transport driven through the real DeliveryCore; closed after."""
    opened: list[Pipeline] = []

    def build(dsn: str, transport_cls: Optional[type] = None, raise_send_errors: bool = False) -> Pipeline:
        if transport_cls is None:
            from raven.transport.threaded import ThreadedHTTPTransport

            transport_cls = ThreadedHTTPTransport
        result = Pipeline(dsn, transport_cls, raise_send_errors)
        opened.append(result)
        return result

    yield build
    for item in opened:
        item.close(0)
