"""asyncio scenarios for tests/loops/test_asyncio.py (and, with Tornado's runner, test_tornado.py).

Runs one scenario inside a running loop and prints one JSON line. ``tornado_child.py`` imports
this module and swaps the runner (``IOLoop.run_sync``) and the library name.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any, Awaitable, Callable, Optional

from common import make_client, stats  # the script's folder is on sys.path

PARAMS: dict[str, Any] = json.loads(sys.argv[1])
SCENARIO: str = PARAMS["scenario"]
RESULT: dict[str, Any] = {}


def asyncio_run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


class Family:
    """What differs between the asyncio and the tornado child."""

    library = "aiohttp"
    run: Callable[[Callable[[], Awaitable[None]]], None] = staticmethod(asyncio_run)


FAMILY = Family()


def transport(client: Any) -> Any:
    return client.remote.get_transport()


class Ticker:
    """A task that records the longest gap between its ticks (the loop's stalls)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.ticks = 0
        self.longest = 0.0
        self._task: Optional[asyncio.Task[None]] = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - self.interval)
            last = now
            self.ticks += 1

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def capture_exception(client: Any) -> Any:
    try:
        raise ValueError("boom in a coroutine")
    except ValueError:
        return client.captureException()


# -- scenarios


async def deliver() -> None:
    client = make_client(PARAMS["dsn"])
    ids = [client.captureMessage("hello from a running loop"), capture_exception(client)]
    RESULT["ids"] = ids
    RESULT["flushed"] = await transport(client).aflush(10)
    RESULT["stats"] = stats(client)
    RESULT["sync_flush_on_loop"] = client.flush(1)  # cannot wait here; says whether anything is pending
    await transport(client).aclose(1)


async def single() -> None:
    client = make_client(PARAMS["dsn"])
    ticker = Ticker(0.01)
    ticker.start()
    started = time.perf_counter()
    client.captureMessage("one event")
    RESULT["flushed"] = await transport(client).aflush(PARAMS.get("flush", 10))
    RESULT["elapsed"] = time.perf_counter() - started
    RESULT["ticks"] = ticker.ticks
    RESULT["longest_stall"] = ticker.longest
    ticker.stop()
    RESULT["stats"] = stats(client)
    await transport(client).aclose(0)
    RESULT["closed_stats"] = stats(client)  # every event accounted for


async def ratelimit() -> None:
    client = make_client(PARAMS["dsn"])
    client.captureMessage("limited")
    RESULT["flush1"] = await transport(client).aflush(10)
    for n in range(3):
        client.captureMessage(f"dropped {n}")
    RESULT["flush2"] = await transport(client).aflush(10)
    RESULT["stats"] = stats(client)


async def stall() -> None:
    count = int(PARAMS.get("count", 1000))
    client = make_client(PARAMS["dsn"])
    ticker = Ticker(0.001)
    ticker.start()
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    longest_capture, longest_at = 0.0, 0
    for n in range(count):
        before = time.perf_counter()
        client.captureMessage("event %d", params=(n,))
        spent = time.perf_counter() - before
        if spent > longest_capture:
            longest_capture, longest_at = spent, n
        await asyncio.sleep(0)  # other work gets its turn between captures
    captured = time.perf_counter()
    RESULT["flushed"] = await transport(client).aflush(60)
    done = time.perf_counter()
    ticker.stop()
    RESULT["longest_stall"] = ticker.longest
    RESULT["longest_capture"] = longest_capture
    RESULT["longest_capture_index"] = longest_at
    RESULT["capture_seconds"] = captured - started
    RESULT["events_per_second"] = count / (done - started)
    RESULT["stats"] = stats(client)


async def threads() -> None:
    client = make_client(PARAMS["dsn"])
    client.captureMessage("from the loop")  # binds to this loop

    def worker(n: int) -> None:
        client.captureMessage(f"from thread {n}")

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in workers:
        thread.start()
    loop = asyncio.get_running_loop()

    def join_all() -> None:
        for thread in workers:
            thread.join(10)

    await loop.run_in_executor(None, join_all)
    # A blocking flush from another thread while the loop keeps running.
    RESULT["thread_flush"] = await loop.run_in_executor(None, client.flush, 10)
    RESULT["stats"] = stats(client)


def created_before_loop() -> None:
    """The client exists (and captures) before any loop runs: a private loop thread delivers."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("before the loop")
    RESULT["flush_no_loop"] = client.flush(10)

    async def main() -> None:
        client.captureMessage("inside the loop")
        RESULT["flushed"] = await transport(client).aflush(10)

    FAMILY.run(main)
    RESULT["stats"] = stats(client)
    client.close(1)


async def shutdown() -> None:
    """Capture and return without flushing: the loop's shutdown delivers (shutdown_timeout)."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("pending at loop shutdown")
    capture_exception(client)
    RESULT["client"] = client


async def cancel_unstarted() -> None:
    """The loop's shutdown cancels a send task before its first step: the guardian sends for it."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("first")
    RESULT["flushed"] = await transport(client).aflush(10)
    client.captureMessage("second")  # its send task is created, not yet started
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()
    RESULT["client"] = client


async def close_on_loop() -> None:
    """``client.close()`` on the loop cannot wait: it delivers in the background, then stops."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("pending at close")
    capture_exception(client)
    client.close(5)
    RESULT["client"] = client


def run_until_complete_then_close() -> None:
    """The old pattern: run_until_complete, then loop.close() with our tasks still there."""
    client = make_client(PARAMS["dsn"])
    loop = asyncio.new_event_loop()

    async def main() -> None:
        client.captureMessage("captured in run_until_complete")
        RESULT["flushed"] = await transport(client).aflush(10)

    loop.run_until_complete(main())
    loop.close()
    RESULT["stats"] = stats(client)


def at_exit() -> None:
    """No loop at all and no flush: the atexit hook delivers from the private loop thread."""
    client = make_client(PARAMS["dsn"])
    client.captureMessage("pending at exit")
    RESULT["captured"] = True


def unknown_option() -> None:
    try:
        make_client(PARAMS["dsn"])
    except Exception as exc:
        RESULT["error"] = f"{type(exc).__name__}: {exc}"


def missing() -> None:
    sys.modules[FAMILY.library] = None  # type: ignore[assignment]
    try:
        make_client(PARAMS["dsn"])
    except Exception as exc:
        RESULT["error"] = f"{type(exc).__name__}: {exc}"
        RESULT["configuration_error"] = type(exc).__name__ == "ConfigurationError"


ASYNC_SCENARIOS: dict[str, Callable[[], Awaitable[None]]] = {
    "deliver": deliver,
    "single": single,
    "ratelimit": ratelimit,
    "stall": stall,
    "threads": threads,
    "shutdown": shutdown,
    "close_on_loop": close_on_loop,
    "cancel_unstarted": cancel_unstarted,
}
SYNC_SCENARIOS: dict[str, Callable[[], None]] = {
    "created_before_loop": created_before_loop,
    "at_exit": at_exit,
    "run_until_complete_then_close": run_until_complete_then_close,
    "unknown_option": unknown_option,
    "missing": missing,
}


def main() -> None:
    if SCENARIO == "missing":
        missing()
    else:
        import raven  # noqa: F401

        RESULT["library_imported_by_raven"] = sys.modules.get(FAMILY.library) is not None
        if SCENARIO in ASYNC_SCENARIOS:
            FAMILY.run(ASYNC_SCENARIOS[SCENARIO])
        else:
            SYNC_SCENARIOS[SCENARIO]()
    client = RESULT.pop("client", None)
    if client is not None:
        RESULT["stats"] = stats(client)  # after the loop shut down
    print(json.dumps(RESULT, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
