"""The transport extension contract of raven 6.10, unchanged.

A user's transport written for raven 6.10 subclasses :class:`Transport` (a blocking ``send``) or
:class:`AsyncTransport` (``async_send`` with callbacks) and keeps working: the client hands it
the URL, the encoded body and the headers, and reads its result or exception (``RateLimited``,
``APIError``) through the same delivery rules as the built-in transports.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Callable

#: raven 6.10's flag telling external transports that this contract (``send(url, data, headers)``,
#: transports built from DSN options) is the one in force.
has_newstyle_transports = True


class Transport:
    """A blocking transport: ``send`` POSTs ``data`` to ``url`` and raises on failure.

    DSN querystring options are passed to ``__init__`` as keyword arguments, as raven 6.10 did.
    """

    scheme: Sequence[str] = []
    is_async = False
    #: Whether ``send`` / ``async_send`` take Sentry envelopes. A transport written for raven
    #: 6.10 (this default) gets what 6.10 gave it: the store URL, the zlib-compressed JSON of the
    #: event, raven's headers. Set it True (as raven-ng's own transports do) to get envelopes
    #: for the ``/envelope/`` endpoint instead; ``?protocol=envelope`` in the DSN does the same.
    accepts_envelopes = False

    def send(self, url: str, data: bytes, headers: Mapping[str, str]) -> Any:
        raise NotImplementedError


#: raven 6.10's callbacks: ``success_cb()`` after a delivery, ``failure_cb(exc)`` after a failure.
OnSuccess = Callable[[], Any]
OnFailure = Callable[[BaseException], Any]


class AsyncTransport(Transport):
    """A non-blocking transport: ``async_send`` calls ``success_cb()`` or ``error_cb(exc)`` later.

    A transport written for raven 6.10 overrides ``async_send``. The built-in ones only say where
    the blocking :meth:`send_sync` runs (``_start``: a worker thread, a greenlet ...).
    """

    is_async = True

    def async_send(
        self, url: str, data: bytes, headers: Mapping[str, str], success_cb: OnSuccess, error_cb: OnFailure
    ) -> None:
        self._start(
            functools.partial(self.send_sync, url, data, headers, success_cb, error_cb), len(data), error_cb
        )

    def send_sync(
        self, url: str, data: bytes, headers: Mapping[str, str], success_cb: OnSuccess, failure_cb: OnFailure
    ) -> None:
        """raven 6.10's blocking half of ``async_send``: :meth:`send`, then one of the callbacks."""
        try:
            self.send(url, data, headers)
        except Exception as exc:
            failure_cb(exc)
        else:
            success_cb()

    def _start(self, job: Callable[[], None], size: int, failure_cb: OnFailure) -> None:
        """Run ``job`` (``size`` bytes) in the background; ``failure_cb(exc)`` if it cannot start."""
        raise NotImplementedError
