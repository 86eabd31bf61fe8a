"""Name resolution with a deadline, and a TCP connect that keeps to it.

``socket.getaddrinfo`` cannot be interrupted: with a resolver that does not answer it blocks for
as long as the system's resolver configuration says (5 s and more), whatever ``timeout`` the DSN
sets. A synchronous transport would block its caller that long. So the lookup runs on a helper
thread and the caller waits at most the time it has left; a lookup that overruns fails as a
connection failure (nothing was sent: the core pauses and may try the event again) and finishes
in the background. One lookup per host and port runs at a time: a caller that finds one running
waits for it instead of starting another, so a resolver that hangs costs one thread, not one per
event.

IP literals and ``localhost``-style names the system answers at once still go through
``getaddrinfo`` (it returns at once for them); only the wait is bounded.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any, Optional

AddrInfo = list[tuple[Any, ...]]


class _Lookup:
    """One ``getaddrinfo`` call on a helper thread, awaited by any number of callers."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.done = threading.Event()
        self.result: Optional[AddrInfo] = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.result = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
        except BaseException as exc:  # handed to the waiting callers
            self.error = exc
        finally:
            self.done.set()
            with _lock:
                if _running.get((self.host, self.port)) is self:
                    del _running[(self.host, self.port)]


_lock = threading.Lock()
_running: dict[tuple[str, int], _Lookup] = {}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolve(host: str, port: int, timeout: float) -> AddrInfo:
    """``getaddrinfo(host, port)`` for TCP, waiting at most ``timeout`` seconds.

    Raises ``socket.gaierror`` when the name does not resolve or the lookup takes longer.
    """
    if _is_ip(host):
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    key = (host, port)
    with _lock:
        lookup = _running.get(key)
        start = lookup is None
        if lookup is None:
            lookup = _running[key] = _Lookup(host, port)
    if start:
        try:
            threading.Thread(target=lookup.run, name="raven-ng-resolve", daemon=True).start()
        except RuntimeError:  # no new threads (interpreter exit): resolve here, unbounded
            lookup.run()
    if not lookup.done.wait(max(0.0, timeout)):
        raise socket.gaierror(socket.EAI_AGAIN, f"name resolution of {host!r} took longer than {timeout:g} s")
    if lookup.error is not None:
        raise lookup.error
    assert lookup.result is not None
    return lookup.result


def create_connection(
    address: tuple[str, int], timeout: Any = None, source_address: Any = None
) -> socket.socket:
    """``socket.create_connection`` whose name resolution and connects share ``timeout``.

    The connected socket's timeout is what is left of it, so a TLS handshake that follows keeps
    to the same deadline.
    """
    host, port = address
    budget = float(timeout) if isinstance(timeout, (int, float)) else None
    deadline = time.monotonic() + budget if budget is not None else None

    def left() -> Optional[float]:
        if deadline is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"connecting to {host}:{port} took longer than {budget:g} s")
        return remaining

    infos = (
        resolve(host, port, budget)
        if budget is not None
        else socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    )
    error: Optional[BaseException] = None
    for family, kind, proto, _, sockaddr in infos:
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(left())
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            sock.settimeout(left())
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    if error is not None:
        raise error
    raise socket.gaierror(socket.EAI_NONAME, f"no address for {host!r}")
