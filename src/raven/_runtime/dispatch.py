"""How the client hands events to a transport: one small interface for every I/O model."""

from __future__ import annotations

from typing import Any, Optional, Protocol

from raven._delivery.model import EventItem


class Dispatcher(Protocol):
    """Takes events from the client. ``submit`` never raises and, except for the synchronous
    transports, never waits on the network."""

    def submit(self, item: EventItem) -> None: ...

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every submitted event is settled (sent or counted lost); False on timeout."""
        ...

    def close(self, timeout: Optional[float] = None) -> Any:
        """Deliver for at most ``timeout``, then count whatever is left as lost, and stop.

        Returns None, or on an event loop's own thread the loop's idiom to wait on.
        """
        ...


def loop_idiom(result: Any) -> bool:
    """A Deferred or an awaitable: what a dispatcher returns when called on its event loop's own
    thread (where it cannot block)."""
    return hasattr(result, "addCallback") or hasattr(result, "__await__")
