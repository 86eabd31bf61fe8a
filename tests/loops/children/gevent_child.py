"""gevent scenarios for tests/loops/test_green.py (with or without ``patch_all``); one JSON line out.

The scenarios are written against a small :class:`Green` shim so eventlet_child.py runs the same
ones on eventlet. Every scenario runs inside a green thread of a running hub.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import types
from typing import Any, Callable, Optional

from common import make_client, stats  # the script's folder is on sys.path


class Green:
    """The few green-thread operations the scenarios need."""

    name = ""
    extra = ""

    def spawn(self, function: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def join(self, handle: Any, timeout: float) -> Any:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def original_thread(self) -> Any:
        """The ``_thread`` module's real functions (``start_new_thread``, ``allocate_lock``), also
        after monkeypatching."""
        raise NotImplementedError

    def real_thread(self, target: Callable[[], None]) -> Any:
        """Start ``target`` on a real OS thread (not a green one); return a real lock held until
        it ends."""
        thread = self.original_thread()
        lock = thread.allocate_lock()
        lock.acquire()

        def run() -> None:
            try:
                target()
            finally:
                lock.release()

        thread.start_new_thread(run, ())
        return lock


class Gevent(Green):
    name = "gevent"
    extra = "gevent"

    def __init__(self, patch: bool) -> None:
        import gevent
        import gevent.monkey

        if patch:
            gevent.monkey.patch_all()
        self.gevent = gevent
        self.monkey = gevent.monkey

    def spawn(self, function: Callable[[], Any]) -> Any:
        return self.gevent.spawn(function)

    def join(self, handle: Any, timeout: float) -> Any:
        return handle.get(timeout=timeout)

    def sleep(self, seconds: float) -> None:
        self.gevent.sleep(seconds)

    def original_thread(self) -> Any:
        names = ("start_new_thread", "allocate_lock")
        return types.SimpleNamespace(**dict(zip(names, self.monkey.get_original("_thread", names))))


# -- helpers


class Ticker:
    """A green thread that records the longest gap between its ticks (the hub's stalls)."""

    def __init__(self, green: Green, interval: float) -> None:
        self.green = green
        self.interval = interval
        self.ticks = 0
        self.longest = 0.0
        self.running = True
        self._handle: Any = None

    def start(self) -> None:
        self._handle = self.green.spawn(self._run)

    def _run(self) -> None:
        last = time.perf_counter()
        while self.running:
            self.green.sleep(self.interval)
            now = time.perf_counter()
            # Gap beyond the requested sleep: time the hub could not run this green thread.
            self.longest = max(self.longest, now - last - self.interval)
            last = now
            self.ticks += 1

    def stop(self) -> None:
        self.running = False
        self.green.join(self._handle, 5)


def capture_exception(client: Any) -> Any:
    try:
        raise ValueError("green failure")
    except ValueError:
        return client.captureException()


# -- scenarios (each returns the result dict)


def deliver(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params["dsn"])
    message_id = client.captureMessage("hello from a green thread", level="info")
    first = client.flush(10)
    exception_id = capture_exception(client)
    second = client.flush(10)
    result = {
        "message_id": message_id,
        "exception_id": exception_id,
        "flushed": [first, second],
        "stats": stats(client),
        "transport": type(client.remote.get_transport()).__name__,
    }
    client.close(1)
    return result


def single(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params["dsn"])
    started = time.monotonic()
    client.captureMessage("one event")
    flushed = client.flush(params.get("flush", 10))
    result = {"flushed": flushed, "elapsed": time.monotonic() - started, "stats": stats(client)}
    client.close(0)
    result["closed_stats"] = stats(client)  # every event accounted for
    return result


def never_answers(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params["dsn"])
    ticker = Ticker(green, 0.01)
    ticker.start()
    green.sleep(0.05)
    ticks_before = ticker.ticks
    started = time.monotonic()
    client.captureMessage("nobody listens")
    flushed = client.flush(10)
    elapsed = time.monotonic() - started
    ticks_during = ticker.ticks - ticks_before
    ticker.stop()
    result = {
        "flushed": flushed,
        "elapsed": elapsed,
        "ticks_during": ticks_during,
        "longest_stall": ticker.longest,
        "stats": stats(client),
    }
    client.close(0)
    return result


def ratelimit(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params["dsn"])
    client.captureMessage("first")
    first = client.flush(10)
    for n in range(3):
        client.captureMessage(f"during the limit {n}")
    second = client.flush(10)
    result = {"flushed": [first, second], "stats": stats(client)}
    client.close(0)
    return result


def overflow(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    """More captures than the queue holds, without yielding: the surplus is dropped."""
    client = make_client(params["dsn"])
    for n in range(3):
        client.captureMessage(f"overflow {n}")
    result = {"flushed": client.flush(10), "stats": stats(client)}
    client.close(0)
    return result


def stall(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    count = int(params.get("count", 1000))
    client = make_client(params["dsn"])
    ticker = Ticker(green, 0.001)
    ticker.start()
    green.sleep(0.02)
    started = time.perf_counter()
    longest_capture = 0.0
    for n in range(count):
        before = time.perf_counter()
        client.captureMessage(f"stall probe {n}", level="info")
        longest_capture = max(longest_capture, time.perf_counter() - before)
        green.sleep(0)  # the application yields between its units of work
    captured = time.perf_counter()
    flushed = client.flush(60)
    done = time.perf_counter()
    ticker.stop()
    result = {
        "flushed": flushed,
        "count": count,
        "longest_stall": ticker.longest,
        "longest_capture": longest_capture,
        "capture_seconds": captured - started,
        "events_per_second": count / (done - started),
        "stats": stats(client),
    }
    client.close(0)
    return result


def threads(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    """Captures and a flush from a real OS thread while the hub runs in the main thread."""
    client = make_client(params["dsn"])
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["ids"] = [client.captureMessage(f"from a real thread {n}") for n in range(5)]
            outcome["thread_flush"] = client.flush(10)
        except BaseException as exc:  # reported to the parent
            outcome["error"] = repr(exc)

    done = green.real_thread(work)
    deadline = time.monotonic() + 20
    while not done.acquire(False) and time.monotonic() < deadline:
        green.sleep(0.01)  # keep the hub running for the thread's hand-offs
    result = {**outcome, "flushed": client.flush(10), "stats": stats(client)}
    client.close(0)
    return result


def at_exit(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    """Capture and return without flush/close: the atexit hook must deliver."""
    client = make_client(params["dsn"])
    ids = [client.captureMessage(f"at exit {n}") for n in range(3)]
    globals()["_keep"] = client
    return {"ids": ids}


def options(green: Green, params: dict[str, Any]) -> dict[str, Any]:
    from raven.exceptions import InvalidDsn

    result: dict[str, Any] = {}
    for label, dsn in params["dsns"].items():
        try:
            client = make_client(dsn)
        except InvalidDsn as exc:
            result[label] = {"error": "InvalidDsn", "message": str(exc)}
        else:
            transport = client.remote.get_transport()
            result[label] = {"limit": getattr(transport, params["attribute"], None)}
    return result


SCENARIOS: dict[str, Callable[[Green, dict[str, Any]], dict[str, Any]]] = {
    "deliver": deliver,
    "single": single,
    "never_answers": never_answers,
    "ratelimit": ratelimit,
    "stall": stall,
    "overflow": overflow,
    "threads": threads,
    "at_exit": at_exit,
    "options": options,
}


def missing(module: str, dsn: str) -> dict[str, Any]:
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        make_client(dsn)
    except Exception as exc:
        return {
            "error": type(exc).__name__,
            "message": str(exc),
            "is_import_error": isinstance(exc, ImportError),
        }
    return {"error": None}


def main(make_green: Callable[[bool], Green], module: str) -> None:
    params: dict[str, Any] = json.loads(sys.argv[1])
    scenario = params["scenario"]
    result: dict[str, Any]
    if scenario == "missing":
        result = missing(module, params["dsn"])
    elif scenario == "lazy":
        import raven
        import raven.transport

        raven.Client(install_sys_hook=False, install_logging_hook=False, hook_libraries=())
        result = {"imported": module in sys.modules}
    else:
        green = make_green(bool(params.get("patch", True)))
        import raven  # noqa: F401  (after patching)

        error: Optional[str] = None
        handle = green.spawn(lambda: SCENARIOS[scenario](green, params))
        try:
            result = green.join(handle, 50)
        except BaseException:
            error = traceback.format_exc()
            result = {}
        if error is not None:
            sys.stderr.write(error)
            sys.exit(1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(Gevent, "gevent")
