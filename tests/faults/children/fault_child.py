"""One cell of the fault matrix: one transport, in its own I/O world, against one scripted server.

Usage: ``fault_child.py '<json params>'``. The child sets its world up first (gevent's
``patch_all``, eventlet's ``monkey_patch``, an asyncio loop, Twisted's reactor), then imports raven,
captures ``count`` messages ``interval`` seconds apart, optionally runs ``idle`` seconds more, then
flushes and closes the world's way, and prints one JSON line (its only output on stdout):

* ``raised``: exceptions that reached the caller of a capture (must be 0);
* ``longest_capture``: the longest single capture call (the caller's stall), seconds;
* ``longest_stall``: the longest gap of a 5 ms ticker on the loop or hub (loop worlds only);
* ``flushed`` / ``close_seconds`` / ``stats``: what flush said, how long close took, and
  ``delivery_stats()`` right after close returned;
* ``idle_cpu``: process CPU seconds used during the idle period;
* ``stdout_bytes``: what anything wrote to stdout during the run (must be 0);
* ``log``: the records of the ``sentry.errors`` logger and of the transports' libraries;
* ``closed_at``: ``time.monotonic()`` when close returned (the parent checks the exit is prompt).

The scenario is written once, as a generator of operations (``("sleep", s)``, ``("flush", t)`` ...)
that each world's driver carries out in its own idiom.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Generator
from typing import Any, Callable

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
WORLD: str = PARAMS["world"]
TICK = 0.005

# -- the world is set up before raven is imported

if WORLD == "gevent":
    import gevent.monkey

    gevent.monkey.patch_all()
elif WORLD == "eventlet":
    import warnings

    warnings.simplefilter("ignore")  # eventlet's deprecation notice
    import eventlet

    eventlet.monkey_patch()

if PARAMS.get("slow_dns"):
    import socket

    _getaddrinfo = socket.getaddrinfo

    def _slow_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        """A resolver that takes ``slow_dns`` seconds to fail for the scripted name (a numeric-only
        lookup, which never asks a name server, answers at once as it would)."""
        flags = kwargs.get("flags", args[4] if len(args) > 4 else 0)
        if host == PARAMS["slow_host"] and not flags & socket.AI_NUMERICHOST:
            time.sleep(float(PARAMS["slow_dns"]))
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return _getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = _slow_getaddrinfo  # type: ignore[assignment]


class _Records(logging.Handler):
    """Keeps every record of the loggers we watch (ours and the libraries')."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


RECORDS = _Records()
for _name in ("sentry.errors", "tornado", "twisted", "aiohttp", "urllib3", "asyncio"):
    logging.getLogger(_name).addHandler(RECORDS)
    logging.getLogger(_name).setLevel(logging.INFO)
logging.getLogger("sentry.errors").propagate = False


def _watchdog(seconds: float) -> None:
    def expire() -> None:
        sys.__stderr__.write(f"fault_child: watchdog expired after {seconds} s\n")
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


import importlib  # noqa: E402

import raven  # noqa: E402

TRANSPORTS = {
    "sync": "raven.transport.http.HTTPTransport",
    "threaded": "raven.transport.threaded.ThreadedHTTPTransport",
    "requests": "raven.transport.requests.RequestsHTTPTransport",
    "threaded_requests": "raven.transport.threaded_requests.ThreadedRequestsHTTPTransport",
    "gevent": "raven.transport.gevent.GeventedHTTPTransport",
    "eventlet": "raven.transport.eventlet.EventletHTTPTransport",
    "tornado": "raven.transport.tornado.TornadoHTTPTransport",
    "twisted": "raven.transport.twisted.TwistedHTTPTransport",
    "asyncio": "raven.transport.asyncio.AsyncioHTTPTransport",
}

Op = tuple[str, Any]


def scenario(client: Any, result: dict[str, Any]) -> Generator[Op, Any, None]:
    """Capture, idle, flush, close: as an application would."""
    count = int(PARAMS["count"])
    interval = float(PARAMS["interval"])
    longest = 0.0
    raised = 0
    ids = []
    for n in range(count):
        started = time.perf_counter()
        try:
            ids.append(client.captureMessage(f"fault matrix event {n}"))
        except BaseException as exc:  # what we are testing: nothing may reach the caller
            raised += 1
            result.setdefault("exceptions", []).append(repr(exc))
        longest = max(longest, time.perf_counter() - started)
        if interval:
            yield ("sleep", interval)
    result.update(raised=raised, longest_capture=longest, ids=ids)
    if PARAMS.get("idle"):
        cpu = time.process_time()
        yield ("sleep", float(PARAMS["idle"]))
        result["idle_cpu"] = time.process_time() - cpu
    result["flushed"] = yield ("flush", float(PARAMS["flush"]))
    started = time.monotonic()
    yield ("close", float(PARAMS["close"]))
    result["closed_at"] = time.monotonic()
    result["close_seconds"] = result["closed_at"] - started
    data = dict(client.delivery_stats())
    result["stats"] = {"sent": data.get("sent", 0), "lost": dict(data.get("lost") or {})}


class Steps:
    """Iterates over a scenario's operations; the driver sets ``value``, the last one's result."""

    def __init__(self, client: Any, result: dict[str, Any]) -> None:
        self.steps = scenario(client, result)
        self.value: Any = None

    def __iter__(self) -> Steps:
        return self

    def __next__(self) -> Op:
        return self.steps.send(self.value)


class World:
    """Carries out a scenario's operations in one I/O model (plain threads by default)."""

    def __init__(self) -> None:
        self.longest_stall = 0.0
        self.ticks = 0

    def tick(self, last: list[float]) -> None:
        now = time.perf_counter()
        self.longest_stall = max(self.longest_stall, now - last[0])
        last[0] = now
        self.ticks += 1

    def run(self, make: Callable[[], Any], result: dict[str, Any]) -> None:
        client = make()
        steps = Steps(client, result)
        for op, arg in steps:
            steps.value = self.do(client, op, arg)

    def do(self, client: Any, op: str, arg: Any) -> Any:
        if op == "sleep":
            time.sleep(arg)
            return None
        if op == "flush":
            return client.flush(arg)
        return client.close(arg)


class Green(World):
    """gevent or eventlet: the scenario runs in a green thread, a ticker green thread beside it."""

    def __init__(
        self, spawn: Callable[..., Any], join: Callable[[Any], Any], sleep: Callable[[float], None]
    ) -> None:
        super().__init__()
        self.spawn = spawn
        self.join = join
        self.sleep = sleep
        self.running = True

    def run(self, make: Callable[[], Any], result: dict[str, Any]) -> None:
        def ticker() -> None:
            last = [time.perf_counter()]
            while self.running:
                self.sleep(TICK)
                self.tick(last)

        def body() -> None:
            try:
                World.run(self, make, result)
            finally:
                self.running = False

        self.spawn(ticker)
        self.join(self.spawn(body))

    def do(self, client: Any, op: str, arg: Any) -> Any:
        if op == "sleep":
            self.sleep(arg)
            return None
        return super().do(client, op, arg)


class Asyncio(World):
    """asyncio (and Tornado, which runs on it): the scenario is a coroutine under ``asyncio.run``."""

    def run(self, make: Callable[[], Any], result: dict[str, Any]) -> None:
        import asyncio

        async def main() -> None:
            running = True

            async def ticker() -> None:
                last = [time.perf_counter()]
                while running:
                    await asyncio.sleep(TICK)
                    self.tick(last)

            tick_task = asyncio.ensure_future(ticker())
            client = make()
            steps = Steps(client, result)
            try:
                for op, arg in steps:
                    if op == "sleep":
                        steps.value = await asyncio.sleep(arg)
                    elif op == "flush":
                        steps.value = await client.aflush(arg)
                    else:
                        steps.value = await client.aclose(arg)
            finally:
                running = False
                await tick_task

        asyncio.run(main())


class Twisted(World):
    """Twisted: the scenario runs on the reactor thread; flush and close answer with Deferreds."""

    def run(self, make: Callable[[], Any], result: dict[str, Any]) -> None:
        from twisted.internet import defer, reactor, task

        last = [time.perf_counter()]
        ticker = task.LoopingCall(self.tick, last)

        @defer.inlineCallbacks
        def body() -> Any:
            ticker.start(TICK, now=False)
            client = make()
            steps = Steps(client, result)
            try:
                for op, arg in steps:
                    if op == "sleep":
                        steps.value = yield task.deferLater(reactor, arg, lambda: None)
                    elif op == "flush":
                        steps.value = yield client.flush(arg)
                    else:
                        closing = client.close(arg)
                        result["close_is_deferred"] = isinstance(closing, defer.Deferred)
                        steps.value = yield closing
            finally:
                ticker.stop()

        def start() -> None:
            done = body()
            done.addErrback(lambda failure: result.setdefault("error", failure.getTraceback()))
            done.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(start)
        reactor.run()


def make_world() -> World:
    if WORLD == "gevent":
        import gevent

        return Green(gevent.spawn, lambda greenlet: greenlet.join(), gevent.sleep)
    if WORLD == "eventlet":
        return Green(eventlet.spawn, lambda thread: thread.wait(), eventlet.sleep)
    if WORLD == "asyncio":
        return Asyncio()
    if WORLD == "twisted":
        return Twisted()
    return World()


def main() -> None:
    _watchdog(float(PARAMS.get("watchdog", 60)))
    module, _, name = TRANSPORTS[PARAMS["transport"]].rpartition(".")
    transport = getattr(importlib.import_module(module), name)
    world = make_world()
    result: dict[str, Any] = {}
    captured = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, captured

    def make() -> Any:
        return raven.Client(
            PARAMS["dsn"],
            transport=transport,
            install_sys_hook=False,
            install_logging_hook=False,
            hook_libraries=(),
        )

    try:
        world.run(make, result)
    finally:
        sys.stdout = real_stdout
    result["stdout_bytes"] = len(captured.getvalue())
    result["stdout_text"] = captured.getvalue()[:500]
    result["longest_stall"] = world.longest_stall if WORLD != "threads" else None
    result["ticks"] = world.ticks
    result["log"] = RECORDS.lines
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
