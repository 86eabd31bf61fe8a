"""The transport extension contract of raven 6.10, unchanged.

A user's transport written for raven 6.10 subclasses :class:`Transport` (a blocking ``send``) or
:class:`AsyncTransport` (``async_send`` with callbacks) and keeps working: the client hands it
the URL, the encoded body and the headers, and reads its result or exception (``RateLimited``,
``APIError``) through the same delivery rules as the built-in transports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable


class Transport:
    """A blocking transport: ``send`` POSTs ``data`` to ``url`` and raises on failure.

    DSN querystring options are passed to ``__init__`` as keyword arguments, as raven 6.10 did.
    """

    scheme: Sequence[str] = []
    is_async = False

    def send(self, url: str, data: bytes, headers: Mapping[str, str]) -> Any:
        raise NotImplementedError


class AsyncTransport(Transport):
    """A non-blocking transport: ``async_send`` calls ``success_cb()`` or ``error_cb(exc)`` later."""

    is_async = True

    def async_send(
        self,
        url: str,
        data: bytes,
        headers: Mapping[str, str],
        success_cb: Callable[[], Any],
        error_cb: Callable[[BaseException], Any],
    ) -> None:
        raise NotImplementedError
