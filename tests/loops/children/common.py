"""Helpers every child script shares. Imports neither raven nor a loop library at import time
(the green children monkeypatch first)."""

from __future__ import annotations

from typing import Any


def make_client(dsn: str, **options: Any) -> Any:
    """A Client that installs no global hooks."""
    import raven

    return raven.Client(dsn, install_sys_hook=False, install_logging_hook=False, hook_libraries=(), **options)


def stats(client: Any) -> dict[str, Any]:
    """The client's delivery counters the tests compare: ``{"sent": n, "lost": {...}}``."""
    data = dict(client.delivery_stats())
    return {"sent": data.get("sent", 0), "lost": dict(data.get("lost") or {})}
