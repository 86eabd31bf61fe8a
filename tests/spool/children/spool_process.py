"""One process of a tests/spool scenario: a client with a durable spool, in its own I/O world.

Usage: ``spool_process.py '<json params>'`` (``tests/loops/harness.py``'s convention: ``scenario``
plus parameters; one JSON line, the result, as the last line of stdout). The world is set up
first (gevent's ``patch_all``, eventlet's ``monkey_patch``), then raven is imported. A watchdog
(``SIGALRM``, default action) ends a child that overruns, whatever its world is doing.

Scenarios (``scenario``):

* ``capture``: capture ``count`` messages, write their ids to ``ids_file`` (written whole, by a
  rename), then ``then``: ``hold`` (sleep until the parent kills it), ``close`` (``close(close)``
  and exit) or ``drain`` (stay alive; once the file ``go`` exists, wait until the spool directory
  holds no event file, then close).
* ``deliver``: a new process on the spool directory that captures nothing: wait until the
  directory holds no event file (another process's files included), close.
* ``restart``: the server goes away and comes back, the parent and the child taking turns through
  files in ``ctl``: capture ``before`` events and flush; (``go2``) capture ``during`` events while
  the server is down, until the client saw a send fail and their files are on disk; (``go3``)
  wait until the directory is empty, close.

Parameters: ``dsn`` (with ``?spool_dir=``), ``spool_dir``, ``world`` (threads, gevent, eventlet,
asyncio, tornado), ``transport`` (a key of ``TRANSPORTS``; default: the DSN's scheme decides),
``watchdog`` seconds.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Coroutine, Generator
from typing import Any, Callable

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
WORLD: str = PARAMS.get("world", "threads")
signal.alarm(int(PARAMS.get("watchdog", 60)))

if WORLD == "gevent":
    import gevent.monkey

    gevent.monkey.patch_all()
elif WORLD == "eventlet":
    import warnings

    warnings.simplefilter("ignore")  # eventlet's deprecation notice
    import eventlet

    eventlet.monkey_patch()

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "loops", "children")
)

import importlib  # noqa: E402

from common import make_client, stats  # noqa: E402

TRANSPORTS = {
    "sync": "raven.transport.http.HTTPTransport",
    "threaded": "raven.transport.threaded.ThreadedHTTPTransport",
}
#: How often a wait looks again (seconds).
POLL = 0.01

Op = tuple[str, Any]
Steps = Generator[Op, Any, None]


def event_files(path: str) -> int:
    """How many event files the spool directory holds (anyone's)."""
    try:
        return sum(1 for name in os.listdir(path) if name.endswith(".envelope"))
    except FileNotFoundError:
        return 0


def write_json(path: str, data: Any) -> None:
    """Write ``data`` whole or not at all (the parent polls for the file)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def until(ready: Callable[[], bool], timeout: float, what: str) -> Steps:
    """Sleep (the world's way) until ``ready()``; TimeoutError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting until {what}")
        yield ("sleep", POLL)


def client_for_run() -> Any:
    options: dict[str, Any] = {}
    name = PARAMS.get("transport")
    if name:
        module, _, attr = TRANSPORTS[name].rpartition(".")
        options["transport"] = getattr(importlib.import_module(module), attr)
    return make_client(PARAMS["dsn"], **options)


def capture(client: Any, label: str, count: int) -> list[str]:
    return [client.captureMessage(f"{label} {n}") for n in range(count)]


def finish(client: Any, result: dict[str, Any]) -> Steps:
    yield ("close", (client, float(PARAMS.get("close", 2.0))))
    result["stats"] = stats(client)
    result["files_left"] = event_files(PARAMS["spool_dir"])


def scenario_capture(result: dict[str, Any]) -> Steps:
    client = client_for_run()
    ids = capture(client, PARAMS.get("label", f"pid {os.getpid()}"), int(PARAMS["count"]))
    write_json(PARAMS["ids_file"], {"ids": ids, "pid": os.getpid()})
    result["ids"] = ids
    then = PARAMS["then"]
    if then == "hold":
        while True:  # until SIGKILL (or the watchdog)
            yield ("sleep", 0.05)
    if then == "drain":
        yield from until(lambda: os.path.exists(PARAMS["go"]), 30, "go")
        yield from until(lambda: event_files(PARAMS["spool_dir"]) == 0, PARAMS.get("drain", 40), "empty")
    yield from finish(client, result)


def scenario_deliver(result: dict[str, Any]) -> Steps:
    client = client_for_run()
    yield from until(lambda: event_files(PARAMS["spool_dir"]) == 0, PARAMS.get("drain", 40), "empty")
    yield from finish(client, result)


def scenario_restart(result: dict[str, Any]) -> Steps:
    ctl = PARAMS["ctl"]
    spool_dir = PARAMS["spool_dir"]
    client = client_for_run()
    result["transport"] = type(client.remote.get_transport()).__name__
    before = capture(client, "before the outage", int(PARAMS["before"]))
    result["flushed"] = yield ("flush", (client, 10.0))
    write_json(os.path.join(ctl, "before.json"), before)
    yield from until(lambda: os.path.exists(os.path.join(ctl, "go2")), 30, "go2")
    during = capture(client, "during the outage", int(PARAMS["during"]))
    yield from until(client.state.did_fail, 30, "a send failed")
    yield from until(lambda: event_files(spool_dir) >= len(during), 30, "the files are on disk")
    result["stats_during"] = stats(client)
    write_json(os.path.join(ctl, "during.json"), during)
    yield from until(lambda: os.path.exists(os.path.join(ctl, "go3")), 30, "go3")
    yield from until(lambda: event_files(spool_dir) == 0, 40, "empty")
    yield from finish(client, result)


SCENARIOS = {"capture": scenario_capture, "deliver": scenario_deliver, "restart": scenario_restart}


# -- worlds: how an operation is carried out


def run_blocking(steps: Steps, sleep: Callable[[float], None]) -> None:
    """Plain threads, or a green world (whose sleep lets the hub run)."""
    value: Any = None
    while True:
        try:
            op, arg = steps.send(value)
        except StopIteration:
            return
        value = None
        if op == "sleep":
            sleep(arg)
        elif op == "flush":
            client, timeout = arg
            value = bool(client.flush(timeout))
        elif op == "close":
            client, timeout = arg
            client.close(timeout)


def run_loop(steps: Steps, runner: Callable[[Callable[[], Coroutine[Any, Any, None]]], None]) -> None:
    """asyncio (or Tornado's ``run_sync``): the scenario runs inside the running loop."""
    import asyncio

    async def main() -> None:
        value: Any = None
        while True:
            try:
                op, arg = steps.send(value)
            except StopIteration:
                return
            value = None
            if op == "sleep":
                await asyncio.sleep(arg)
            elif op == "flush":
                client, timeout = arg
                value = bool(await client.aflush(timeout))
            elif op == "close":
                client, timeout = arg
                await client.aclose(timeout)

    runner(main)


def tornado_run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    import warnings

    from tornado.ioloop import IOLoop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # IOLoop.current() without a running loop
        loop: Any = IOLoop.current()
    loop.run_sync(main, timeout=90)


def main() -> None:
    result: dict[str, Any] = {"pid": os.getpid()}
    steps = SCENARIOS[PARAMS["scenario"]](result)
    try:
        if WORLD in ("threads", "gevent"):
            run_blocking(steps, time.sleep)  # gevent: patched
        elif WORLD == "eventlet":
            run_blocking(steps, eventlet.sleep)
        elif WORLD == "asyncio":
            import asyncio

            run_loop(steps, lambda main: asyncio.run(main()))
        elif WORLD == "tornado":
            run_loop(steps, tornado_run)
        else:
            raise ValueError(f"unknown world {WORLD!r}")
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
