"""A transport driven as the Client drives it, for the transport tests.

Kept out of ``conftest.py``: test modules import it by name, and the e2e suite has a
``conftest`` of its own.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from servers import Answer, LoopbackServer, RecordedRequest, make_item

#: Client options for tests: no global hooks left behind.
HOOKS_OFF: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def normalizer_errors(event: dict[str, Any]) -> Any:
    """What Sentry's own normalizer (sentry_relay) finds wrong with ``event``; skips without it."""
    processing = pytest.importorskip("sentry_relay.processing")
    return processing.StoreNormalizer().normalize_event(event).get("errors")


class Pipeline:
    """A transport driven as the Client drives it: DSN -> transport -> DeliveryCore -> dispatcher."""

    def __init__(self, dsn: str, transport_cls: type, raise_send_errors: bool = False) -> None:
        from raven._delivery.core import DeliveryCore
        from raven._delivery.dsn import Dsn, TransportOptions
        from raven._runtime.dispatchers import open_dispatcher
        from raven.transport.registry import make_transport
        from raven.version import CLIENT_NAME

        self.dsn = Dsn.parse(dsn)
        self.transport = make_transport(transport_cls, self.dsn)
        options = getattr(self.transport, "options", None)
        if not isinstance(options, TransportOptions):
            options = TransportOptions()
        self.core = DeliveryCore(self.dsn, options, CLIENT_NAME)
        self.dispatcher = open_dispatcher(self.transport, self.core, raise_send_errors=raise_send_errors)

    def submit(self, message: str = "hello", category: str = "error") -> Any:
        item = make_item(message, category=category)
        self.dispatcher.submit(item)
        return item

    def flush(self, timeout: float = 10.0) -> bool:
        return bool(self.dispatcher.flush(timeout))

    def lost(self, key: str) -> int:
        """Lost-event count under ``"reason:category"``, e.g. ``lost("network_error:error")``."""
        return int(self.core.stats()["lost"].get(key, 0))  # type: ignore[attr-defined]

    @property
    def sent(self) -> int:
        return int(self.core.stats()["sent"])  # type: ignore[call-overload]

    def close(self, timeout: float = 0.0) -> None:
        self.dispatcher.close(timeout)

    def wait_out_pause(self, timeout: float = 5.0) -> None:
        """Wait (a poll with a deadline) until the core's pause after a failed send is over."""
        import time

        deadline = time.monotonic() + timeout
        while self.core.hold(time.monotonic()) > 0:
            assert time.monotonic() < deadline, "the pause did not end"
            time.sleep(0.01)


def check_envelope_post(request: RecordedRequest, project: str = "1") -> None:
    """``request`` is what every transport sends: a gzipped envelope POST with Sentry's auth."""
    assert request.method == "POST" and request.is_envelope
    assert request.path == f"/api/{project}/envelope/"
    assert request.headers["content-type"] == "application/x-sentry-envelope"
    assert request.headers["content-encoding"] == "gzip"
    assert request.auth["sentry_key"] == "public"
    assert request.headers["user-agent"].startswith("raven-ng/")


def transport_for(transport_cls: type, dsn: str) -> Any:
    """``transport_cls`` built from ``dsn`` as the Client builds it (querystring options checked)."""
    from raven._delivery.dsn import Dsn
    from raven.transport.registry import make_transport

    return make_transport(transport_cls, Dsn.parse(dsn))


class Clients:
    """Makes Clients for one test (hooks off) and closes them all at its end: a ``make_client``
    fixture yields one and calls :meth:`close_all`."""

    def __init__(self) -> None:
        self._clients: list[Any] = []

    def __call__(self, dsn: Optional[str], **options: Any) -> Any:
        from raven import Client

        client = Client(dsn, **{**HOOKS_OFF, **options})
        self._clients.append(client)
        return client

    def close_all(self, timeout: float = 5.0) -> None:
        for client in self._clients:
            client.close(timeout=timeout)


# -- keep-alive cases every connection-reusing transport shares


def check_keep_alive_one_connection(server: LoopbackServer, p: Pipeline) -> None:
    """Twenty events, one after the other, all on one connection."""
    for i in range(20):
        p.submit(f"event {i}")
    requests = server.wait_for_requests(20)
    assert server.connections == 1
    assert {r.connection_id for r in requests} == {1}
    assert p.sent == 20


def check_stale_keep_alive_is_replaced(server: LoopbackServer, p: Pipeline) -> None:
    """The server closes the connection after the first reply, silently (as after an idle
    timeout): the next event goes out on a new connection, nothing is lost."""
    server.script(Answer(close_after=True))
    p.submit("one")
    server.wait_for_requests(1)
    p.submit("two")
    requests = server.wait_for_requests(2)
    assert p.sent == 2 and p.lost("network_error:error") == 0
    assert requests[1].connection_id == 2


def check_dropped_reused_connection_is_resent_once(
    server: LoopbackServer, p: Pipeline
) -> list[RecordedRequest]:
    """The server drops the connection on receiving the second request, without a byte of reply:
    on a reused connection that is a stale keep-alive race, and the request is sent again, once."""
    server.script(Answer(), Answer(action="drop"))
    p.submit("one")
    p.submit("two")
    requests = server.wait_for_requests(3)
    assert p.sent == 2
    assert [r.connection_id for r in requests] == [1, 1, 2]
    return requests
