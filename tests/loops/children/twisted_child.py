"""Twisted scenarios for tests/loops/test_twisted.py: run inside ``reactor.run()``, print one JSON line."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Callable

from common import make_client, stats  # the script's folder is on sys.path

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
SCENARIO = PARAMS["scenario"]
RESULT: dict[str, Any] = {}

if SCENARIO == "missing":
    sys.modules["twisted"] = None  # type: ignore[assignment]

import raven  # noqa: E402, F401  (whether importing raven imports Twisted)

RESULT["twisted_imported_by_raven"] = "twisted" in sys.modules and sys.modules["twisted"] is not None


def get_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def flush(client: Any, timeout: float) -> Any:
    """The dispatcher's own flush: a Deferred on the reactor thread."""
    from twisted.internet import defer

    dispatcher = client._dispatcher
    return defer.succeed(True) if dispatcher is None else dispatcher.flush(timeout)


class Ticker:
    """A LoopingCall that records the longest gap between its ticks (the reactor's stalls)."""

    def __init__(self, interval: float = 0.005) -> None:
        from twisted.internet import task

        self.interval = interval
        self.ticks = 0
        self.longest = 0.0
        self._last = time.perf_counter()
        self._call = task.LoopingCall(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._call.start(self.interval, now=False)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now
        self.ticks += 1

    def stop(self) -> None:
        if self._call.running:
            self._call.stop()


def run(body: Callable[[], Any], limit: float = 40.0) -> None:
    """Run ``body`` (returning a Deferred) inside the reactor; stop when it ends or after ``limit``."""
    from twisted.internet import defer

    reactor = get_reactor()

    def fail(failure: Any) -> None:
        RESULT["error"] = failure.getTraceback()

    def start() -> None:
        deferred = defer.maybeDeferred(body)
        deferred.addErrback(fail)
        deferred.addBoth(stop)

    def stop(_: object) -> None:
        if reactor.running:
            reactor.stop()

    def watchdog() -> None:
        RESULT["watchdog"] = True
        reactor.stop()

    timer = reactor.callLater(limit, watchdog)
    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if timer.active():
        timer.cancel()


def capture_exception(client: Any) -> Any:
    try:
        raise ValueError("twisted child boom")
    except ValueError:
        return client.captureException()


# -- scenarios


def deliver() -> None:
    from twisted.internet import defer

    client = make_client(PARAMS["dsn"])

    @defer.inlineCallbacks
    def body() -> Any:
        RESULT["ids"] = [client.captureMessage("hello from twisted")]
        RESULT["flush1"] = yield flush(client, 10)
        RESULT["ids"].append(capture_exception(client))
        RESULT["flush2"] = yield flush(client, 10)
        RESULT["client_flush"] = client.flush(0)
        RESULT["stats"] = stats(client)

    run(body)


def single() -> None:
    """One event, one flush: the TLS, failure and timeout cases."""
    from twisted.internet import defer

    client = make_client(PARAMS["dsn"])
    ticker = Ticker(0.01)

    @defer.inlineCallbacks
    def body() -> Any:
        ticker.start()
        started = time.monotonic()
        client.captureMessage("one event")
        RESULT["flushed"] = yield flush(client, PARAMS.get("flush", 15))
        RESULT["elapsed"] = time.monotonic() - started
        RESULT["ticks"] = ticker.ticks
        RESULT["longest_stall"] = ticker.longest
        ticker.stop()
        RESULT["stats"] = stats(client)
        closing = client.close(0)  # on the reactor thread: a Deferred
        RESULT["close_is_deferred"] = isinstance(closing, defer.Deferred)
        yield closing
        RESULT["closed_stats"] = stats(client)  # every event accounted for

    run(body)


def flush_timeout() -> None:
    """flush(0.3) on the reactor thread: its Deferred fires False while a send is still waiting."""
    from twisted.internet import defer

    client = make_client(PARAMS["dsn"])

    @defer.inlineCallbacks
    def body() -> Any:
        client.captureMessage("waits for a silent server")
        started = time.monotonic()
        deferred = flush(client, 0.3)
        RESULT["is_deferred"] = isinstance(deferred, defer.Deferred)
        RESULT["flushed"] = yield deferred
        RESULT["elapsed"] = time.monotonic() - started
        closing = client._dispatcher.close(10)
        RESULT["closed"] = yield closing
        RESULT["stats"] = stats(client)

    run(body)


def ratelimit() -> None:
    from twisted.internet import defer

    client = make_client(PARAMS["dsn"])

    @defer.inlineCallbacks
    def body() -> Any:
        client.captureMessage("first")
        RESULT["flush1"] = yield flush(client, 10)
        client.captureMessage("second (rate limited)")
        client.captureMessage("third (rate limited)")
        RESULT["flush2"] = yield flush(client, 10)
        RESULT["stats"] = stats(client)

    run(body)


def stall() -> None:
    """Capture ``count`` events, one per reactor turn, while a ticker measures the longest stall."""
    from twisted.internet import defer

    reactor = get_reactor()

    count = int(PARAMS.get("count", 1000))
    client = make_client(PARAMS["dsn"])
    ticker = Ticker(0.005)

    @defer.inlineCallbacks
    def body() -> Any:
        ticker.start()
        done: Any = defer.Deferred()
        captured = [0]
        started = time.perf_counter()

        def one() -> None:
            client.captureMessage(f"event {captured[0]}")
            captured[0] += 1
            if captured[0] < count:
                reactor.callLater(0, one)
            else:
                done.callback(None)

        one()
        yield done
        RESULT["capture_seconds"] = time.perf_counter() - started
        RESULT["flushed"] = yield flush(client, 30)
        RESULT["total_seconds"] = time.perf_counter() - started
        RESULT["events_per_second"] = count / RESULT["total_seconds"]
        RESULT["longest_stall"] = ticker.longest
        RESULT["ticks"] = ticker.ticks
        ticker.stop()
        RESULT["stats"] = stats(client)

    run(body, limit=60)


def threads() -> None:
    """Captures and a blocking flush from another thread while the reactor runs."""
    from twisted.internet import threads as twisted_threads

    client = make_client(PARAMS["dsn"])

    def work() -> None:
        for index in range(5):
            client.captureMessage(f"from a thread {index}")
        RESULT["thread_flush"] = client.flush(10)
        RESULT["stats"] = stats(client)

    run(lambda: twisted_threads.deferToThread(work))


def reactor_in_thread() -> None:
    """The reactor runs in a daemon thread; the main thread captures and flushes (blocking)."""
    reactor = get_reactor()

    client = make_client(PARAMS["dsn"])
    client.captureMessage("captured before the reactor started")
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    client.captureMessage("captured from the main thread")
    RESULT["flushed"] = client.flush(10)
    RESULT["stats"] = stats(client)
    client.close(2)
    reactor.callFromThread(reactor.stop)
    thread.join(10)
    RESULT["reactor_stopped"] = not thread.is_alive()


def shutdown() -> None:
    """Events pending when the reactor stops are delivered by the shutdown trigger."""
    reactor = get_reactor()

    client = make_client(PARAMS["dsn"])

    def body() -> None:
        client.captureMessage("pending at shutdown")
        capture_exception(client)
        reactor.stop()

    reactor.callWhenRunning(body)
    watchdog = reactor.callLater(30, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if watchdog.active():
        watchdog.cancel()
    RESULT["stats"] = stats(client)


def no_reactor() -> None:
    """The reactor never runs: flush and close return at once instead of hanging."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("never sent")
    started = time.monotonic()
    RESULT["flushed"] = client.flush(5)
    client.close(5)
    RESULT["elapsed"] = time.monotonic() - started
    RESULT["stats"] = stats(client)


def options() -> None:
    from raven.exceptions import InvalidDsn

    try:
        make_client(PARAMS["dsn"])
    except InvalidDsn as exc:
        RESULT["error"] = f"InvalidDsn: {exc}"
    else:
        RESULT["error"] = None


def missing() -> None:
    from raven.exceptions import ConfigurationError

    try:
        make_client(PARAMS["dsn"])
    except ConfigurationError as exc:
        RESULT["error"] = f"{type(exc).__name__}: {exc}"
    else:
        RESULT["error"] = None


SCENARIOS: dict[str, Callable[[], None]] = {
    "deliver": deliver,
    "single": single,
    "ratelimit": ratelimit,
    "flush_timeout": flush_timeout,
    "stall": stall,
    "threads": threads,
    "reactor_in_thread": reactor_in_thread,
    "shutdown": shutdown,
    "no_reactor": no_reactor,
    "options": options,
    "missing": missing,
}

if __name__ == "__main__":
    SCENARIOS[SCENARIO]()
    print(json.dumps(RESULT, default=str))
