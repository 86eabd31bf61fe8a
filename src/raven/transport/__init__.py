"""raven's transports (raven 6.10's ``raven.transport`` namespace).

The stdlib transports are imported here. Those that need an optional library (requests, gevent,
eventlet, tornado, twisted, aiohttp) are imported only when one of their names is first used,
so ``import raven.transport`` never imports those libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

from raven.transport.base import AsyncTransport, Transport
from raven.transport.http import HTTPTransport, TransportNetworkError
from raven.transport.registry import (
    DuplicateScheme,
    InvalidScheme,
    TransportRegistry,
    default_transports,
    make_transport,
)
from raven.transport.threaded import AsyncWorker, ThreadedHTTPTransport

# The optional transports (``GeventedHTTPTransport`` ...) resolve lazily through ``__getattr__``.
__all__ = [
    "AsyncTransport",
    "AsyncWorker",
    "DuplicateScheme",
    "HTTPTransport",
    "InvalidScheme",
    "ThreadedHTTPTransport",
    "Transport",
    "TransportNetworkError",
    "TransportRegistry",
    "default_transports",
    "make_transport",
]

#: Helper flag of raven 6.10 for external transports.
has_newstyle_transports = True

_LAZY = {
    "EventletHTTPTransport": "raven.transport.eventlet",
    "GeventedHTTPTransport": "raven.transport.gevent",
    "RequestsHTTPTransport": "raven.transport.requests",
    "ThreadedRequestsHTTPTransport": "raven.transport.threaded_requests",
    "TornadoHTTPTransport": "raven.transport.tornado",
    "TwistedHTTPTransport": "raven.transport.twisted",
    "AsyncioHTTPTransport": "raven.transport.asyncio",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
