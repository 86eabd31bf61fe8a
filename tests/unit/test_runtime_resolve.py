"""Name resolution within a deadline (a stand-in resolver: the system's cannot be made slow here)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from raven._runtime import resolve


@pytest.fixture
def slow_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``getaddrinfo`` that blocks until released for names ending in ``.slow``."""
    state: dict[str, Any] = {"release": threading.Event(), "calls": 0}
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.endswith(".slow"):
            state["calls"] += 1
            state["release"].wait(10)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield state
    state["release"].set()


def test_a_hanging_lookup_costs_at_most_the_timeout(slow_resolver: dict[str, Any]) -> None:
    started = time.monotonic()
    with pytest.raises(socket.gaierror, match="took longer than 0.2 s"):
        resolve.resolve("sentry.slow", 443, 0.2)
    assert time.monotonic() - started < 1.0


def test_callers_share_one_running_lookup(slow_resolver: dict[str, Any]) -> None:
    for _ in range(5):
        with pytest.raises(socket.gaierror):
            resolve.resolve("shared.slow", 443, 0.05)
    assert slow_resolver["calls"] == 1  # one thread waits on the resolver, not five
    slow_resolver["release"].set()
    infos = resolve.resolve("shared.slow", 443, 5.0)
    assert infos and infos[0][4][0] == "127.0.0.1"


def test_ip_literals_and_resolving_names_answer_at_once() -> None:
    assert resolve.resolve("127.0.0.1", 80, 0.5)[0][4] == ("127.0.0.1", 80)
    assert resolve.resolve("localhost", 80, 5.0)


def test_an_unknown_name_fails_as_the_resolver_says() -> None:
    with pytest.raises(socket.gaierror):
        resolve.resolve("sentry.invalid", 443, 5.0)


def test_create_connection_keeps_to_one_deadline(slow_resolver: dict[str, Any]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        sock = resolve.create_connection(("127.0.0.1", port), 2.0)
        try:
            assert 0 < (sock.gettimeout() or 0) <= 2.0  # what is left of the deadline
        finally:
            sock.close()
        started = time.monotonic()
        with pytest.raises(socket.gaierror):
            resolve.create_connection(("deadline.slow", port), 0.2)
        assert time.monotonic() - started < 1.0
    finally:
        listener.close()
