"""A transport driven as the Client drives it, for the transport tests.

Kept out of ``conftest.py``: test modules import it by name, and the e2e suite has a
``conftest`` of its own.
"""

from __future__ import annotations

from typing import Any

from servers import make_item


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
