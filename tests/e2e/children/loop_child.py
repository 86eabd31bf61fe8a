"""One event-loop family's end-to-end run, for tests/e2e/test_bugsink_loops.py; one JSON line out.

argv[1] is a JSON object: ``scenario`` (the family: gevent, eventlet, asyncio, tornado or twisted),
``dsn``, ``transport`` ("module:Class") and ``captures`` (names of :data:`CAPTURES`, in order).
The child patches first (gevent, eventlet), then imports raven, creates the client and captures
inside the running loop, flushes in the loop's idiom, and prints ``ids`` (capture name -> event
id), ``flushed``, ``stats`` (``delivery_stats()``) and ``transport`` (the class that sent).
The events and their checks are e2e_events.py's, shared with the threaded transports' tests.
"""

from __future__ import annotations

import json
import sys

PARAMS = json.loads(sys.argv[1])
FAMILY: str = PARAMS["scenario"]

# Patching cannot come later: whatever imported socket, ssl or threading before would keep the originals.
if FAMILY == "gevent":
    import gevent.monkey

    gevent.monkey.patch_all()
elif FAMILY == "eventlet":
    import eventlet

    eventlet.monkey_patch()

import importlib  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/e2e

from e2e_events import CLIENT_OPTIONS, capture_exception_event, capture_message_event  # noqa: E402

import raven  # noqa: E402

CAPTURES: dict[str, Callable[[Any], str]] = {
    "message": capture_message_event,
    "exception": capture_exception_event,
}
FLUSH_TIMEOUT = 10.0
#: Upper bound of a whole run inside the loop; the parent's own timeout is longer.
RUN_LIMIT = 60.0


def make_client() -> Any:
    module_name, _, class_name = PARAMS["transport"].partition(":")
    transport = getattr(importlib.import_module(module_name), class_name)
    return raven.Client(
        PARAMS["dsn"],
        transport=transport,
        install_sys_hook=False,
        install_logging_hook=False,
        hook_libraries=(),
        **CLIENT_OPTIONS,
    )


def capture(client: Any) -> dict[str, str]:
    return {name: CAPTURES[name](client) for name in PARAMS["captures"]}


def report(client: Any, ids: dict[str, str], flushed: Any) -> dict[str, Any]:
    return {
        "ids": ids,
        "flushed": flushed,
        "stats": dict(client.delivery_stats()),
        "transport": type(client.remote.get_transport()).__name__,
    }


# -- one runner per family: each returns the report


def green_body() -> dict[str, Any]:
    """In a green thread of a running hub: flush blocks this green thread only."""
    client = make_client()
    ids = capture(client)
    result = report(client, ids, client.flush(FLUSH_TIMEOUT))
    client.close(1)
    return result


def run_gevent() -> dict[str, Any]:
    import gevent

    result: dict[str, Any] = gevent.spawn(green_body).get(timeout=RUN_LIMIT)
    return result


def run_eventlet() -> dict[str, Any]:
    import eventlet

    with eventlet.Timeout(RUN_LIMIT):
        result: dict[str, Any] = eventlet.spawn(green_body).wait()
    return result


async def loop_body() -> dict[str, Any]:
    """On the running asyncio loop (Tornado's too): the flush is awaited."""
    client = make_client()
    ids = capture(client)
    result = report(client, ids, await client.aflush(FLUSH_TIMEOUT))
    await client.aclose(1)
    return result


def run_asyncio() -> dict[str, Any]:
    import asyncio

    return asyncio.run(asyncio.wait_for(loop_body(), RUN_LIMIT))


def run_tornado() -> dict[str, Any]:
    from tornado.ioloop import IOLoop

    ioloop = IOLoop()
    try:
        result: dict[str, Any] = ioloop.run_sync(loop_body, timeout=RUN_LIMIT)
    finally:
        ioloop.close()
    return result


def run_twisted() -> dict[str, Any]:
    """Inside ``reactor.run()``: on the reactor thread ``client.flush`` returns a Deferred."""
    from twisted.internet import defer
    from twisted.internet import reactor as installed_reactor

    reactor: Any = installed_reactor  # typed as an interface that lacks run(installSignalHandlers=...)
    outcome: dict[str, Any] = {}

    @defer.inlineCallbacks
    def body() -> Any:
        client = make_client()
        ids = capture(client)
        flushing = client.flush(FLUSH_TIMEOUT)
        if not isinstance(flushing, defer.Deferred):
            raise AssertionError(f"client.flush on the reactor thread returned {flushing!r}")
        flushed = yield flushing
        outcome["result"] = report(client, ids, flushed)
        client.close(1)

    def fail(failure: Any) -> None:
        outcome["error"] = failure.getTraceback()

    def start() -> None:
        running = body()
        running.addErrback(fail)
        running.addBoth(lambda _: reactor.stop())

    def give_up() -> None:
        outcome["error"] = f"still running after {RUN_LIMIT:g}s"
        reactor.stop()

    watchdog = reactor.callLater(RUN_LIMIT, give_up)
    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if watchdog.active():
        watchdog.cancel()
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    result: dict[str, Any] = outcome["result"]
    return result


RUNNERS: dict[str, Callable[[], dict[str, Any]]] = {
    "gevent": run_gevent,
    "eventlet": run_eventlet,
    "asyncio": run_asyncio,
    "tornado": run_tornado,
    "twisted": run_twisted,
}


def main() -> None:
    try:
        result = RUNNERS[FAMILY]()
    except BaseException:
        sys.stderr.write(traceback.format_exc())
        sys.exit(1)
    print(json.dumps(result, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
