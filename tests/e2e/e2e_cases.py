"""What the end-to-end tests run over: the transports, and the low quota of the 429 tests."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

import pytest

#: Events a project of ``low_quota_bugsink`` accepts per 5 minutes before Bugsink answers 429.
LOW_QUOTA = 5


@dataclass(frozen=True)
class TransportCase:
    """A transport the suite runs against Bugsink; ``library`` is the optional package it needs."""

    name: str
    path: str  # "module:Class"
    library: Optional[str] = None

    def skip_unless_installed(self) -> None:
        """Skip the test when the transport's optional library is not installed."""
        if self.library is not None:
            pytest.importorskip(self.library, reason=f"{self.name}: {self.library} is not installed")

    def load(self) -> type:
        """The transport class; skips the test when its optional library is not installed."""
        self.skip_unless_installed()
        module_name, _, class_name = self.path.partition(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


#: Transports that send from plain threads. Add a row as each transport lands.
TRANSPORTS = [
    TransportCase("http", "raven.transport.http:HTTPTransport"),
    TransportCase("threaded", "raven.transport.threaded:ThreadedHTTPTransport"),
    TransportCase("requests", "raven.transport.requests:RequestsHTTPTransport", "requests"),
    TransportCase(
        "threaded_requests", "raven.transport.threaded_requests:ThreadedRequestsHTTPTransport", "requests"
    ),
]

#: Transports that send from an event loop: each runs in a child process (children/loop_child.py),
#: named by ``name``, which patches its library first when it needs to.
LOOP_TRANSPORTS = [
    TransportCase("gevent", "raven.transport.gevent:GeventedHTTPTransport", "gevent"),
    TransportCase("eventlet", "raven.transport.eventlet:EventletHTTPTransport", "eventlet"),
    TransportCase("asyncio", "raven.transport.asyncio:AsyncioHTTPTransport", "aiohttp"),
    TransportCase("tornado", "raven.transport.tornado:TornadoHTTPTransport", "tornado.httpclient"),
    TransportCase("twisted", "raven.transport.twisted:TwistedHTTPTransport", "twisted.web.client"),
]
