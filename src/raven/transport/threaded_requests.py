"""raven 6.10's ``ThreadedRequestsHTTPTransport``: the background worker, sending with ``requests``.

The worker, its queue bounds, flush and fork rules are those of
:class:`~raven.transport.threaded.ThreadedHTTPTransport`; only the connection differs: each sender
thread posts through its own ``requests.Session`` (:class:`~raven.transport.requests.RequestsSession`).
DSN options: those of the threaded transport (``timeout``, ``verify_ssl``, ``ca_certs``,
``protocol``, ``shutdown_timeout``, ``queue_size``, ``queue_bytes``, ``max_connections``).
"""

from __future__ import annotations

from raven._delivery.dsn import QUEUE_OPTIONS
from raven.transport.base import AsyncTransport  # noqa: F401  (raven 6.10 name of this module)
from raven.transport.requests import RequestsHTTPTransport
from raven.transport.threaded import AsyncWorker, ThreadedHTTPTransport  # noqa: F401

__all__ = ("ThreadedRequestsHTTPTransport",)


class ThreadedRequestsHTTPTransport(ThreadedHTTPTransport, RequestsHTTPTransport):
    """Sends from background threads with ``requests``; ``Client.capture*`` never waits on the network.

    ``open_dispatcher`` (from the threaded transport) builds the foundation's Worker with
    ``new_connection`` (from :class:`RequestsHTTPTransport`) as its connection factory.
    """

    scheme = ["threaded+requests+http", "threaded+requests+https"]
    accepted_options: frozenset[str] = QUEUE_OPTIONS
