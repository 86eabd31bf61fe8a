"""One benchmark run inside one client's venv (started by bench/run.py; stdlib only, Python >= 3.9).

    <venv>/bin/python bench/client_runner.py '<json spec>'

The spec names the library (``raven-ng``, ``raven`` = raven 6.10, ``sentry-sdk``, or ``floor`` for the
machine's floor), the kind of run and its sizes, the transport and the loop family (``none``,
``gevent``, ``eventlet``, ``asyncio``, ``tornado``, ``twisted``) the run's body runs in. Results go to
stdout as lines starting with ``@@BENCH `` followed by JSON; anything else on stdout (raven 6.10 prints
at exit) is ignored by the driver. A watchdog (a real OS thread, whatever the loop) ends the process
with exit code 3 at the spec's deadline, whatever happens.

The overhead, throughput and paced bodies are ``async def`` over a small per-family :class:`Ops`
(yield to the loop or sleep, read the driver's line from stdin, flush in the loop's idiom); a trivial
trampoline runs them for the plain and green families, whose operations never suspend the coroutine
itself.
"""

from __future__ import annotations

import _thread
import functools
import gc
import json
import os
import sys
import time
import traceback
import zlib
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional

# Taken before a green family monkeypatches: the watchdog must run on a real thread with a real sleep,
# or a hub that never yields would keep it from firing.
REAL_START_THREAD = _thread.start_new_thread
REAL_SLEEP = time.sleep

MESSAGE = "Benchmark message: the widget pipeline reported an unexpected state"
ITEMS = [1, 2.5, "three", None, b"four", (5, 6)]


def emit(**payload: Any) -> None:
    sys.stdout.write("@@BENCH " + json.dumps(payload, default=repr) + "\n")
    sys.stdout.flush()


def start_watchdog(seconds: float) -> None:
    def expire() -> None:
        REAL_SLEEP(seconds)
        emit(phase="error", error=f"watchdog: run exceeded its {seconds:.0f} s deadline")
        os._exit(3)

    REAL_START_THREAD(expire, ())


def rss_kib() -> Dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def rss_growth(before: Dict[str, int], after: Dict[str, int], peak: bool = True) -> Dict[str, Any]:
    """The memory figures of an ``rss`` result, in MiB (``peak``: VmHWM means this run's peak)."""
    return {
        "rss_before_mib": before["VmRSS"] / 1024.0,
        "rss_after_mib": after["VmRSS"] / 1024.0,
        "rss_growth_mib": (after["VmRSS"] - before["VmRSS"]) / 1024.0,
        "peak_growth_mib": (after["VmHWM"] - before["VmRSS"]) / 1024.0 if peak else None,
    }


# -- the exception scenario: raised through 10 frames with ~5 locals of mixed types each --------------


class Widget:
    def __init__(self, n: int) -> None:
        self.n = n
        self.label = f"widget-{n}"

    def __repr__(self) -> str:
        return f"<Widget {self.n} {self.label}>"


def descend(depth: int, items: List[Any]) -> None:
    label = f"step-{depth}"
    meta = {"depth": depth, "ratio": depth / 3.0, "even": depth % 2 == 0, "none": None, "tags": ["a", "b"]}
    widget = Widget(depth)
    if depth <= 1:
        raise ValueError(f"benchmark failure in {label} ({widget!r}, {len(meta)} keys)")
    descend(depth - 1, items)


# Every raised exception stays alive until the process ends: raven (6.10 and -ng) skips an exception
# whose id() it has seen before, and a freed exception's id is soon reused by the next one.
RAISED: List[BaseException] = []


def timed_exception(capture: Callable[[], Any]) -> float:
    """Raise through 9 ``descend`` frames (10 with this one); time only the capture call."""
    try:
        descend(9, ITEMS)
    except ValueError:
        t0 = time.perf_counter()
        capture()
        elapsed = time.perf_counter() - t0
        RAISED.append(sys.exc_info()[1])  # type: ignore[arg-type]
        return elapsed
    return 0.0


# -- library adapters ----------------------------------------------------------------------------------


# raven 6.10's import paths and class names, which raven-ng keeps (asyncio is raven-ng's own).
TRANSPORTS = {
    "sync": "raven.transport.http:HTTPTransport",
    "threaded": "raven.transport.threaded:ThreadedHTTPTransport",
    "requests": "raven.transport.requests:RequestsHTTPTransport",
    "threaded_requests": "raven.transport.threaded_requests:ThreadedRequestsHTTPTransport",
    "gevent": "raven.transport.gevent:GeventedHTTPTransport",
    "eventlet": "raven.transport.eventlet:EventletHTTPTransport",
    "tornado": "raven.transport.tornado:TornadoHTTPTransport",
    "twisted": "raven.transport.twisted:TwistedHTTPTransport",
    "asyncio": "raven.transport.asyncio:AsyncioHTTPTransport",
}


def transport_class(name: Optional[str]) -> Any:
    """A name of ``TRANSPORTS`` (default ``threaded``), or ``package.module:ClassName``."""
    import importlib

    path = name if name and ":" in name else TRANSPORTS[name or "threaded"]
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


class Adapter:
    """The same four operations over each library's public API."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        self.lib = spec["lib"]
        self.flush: Optional[Callable[[float], Any]] = None
        self.aflush: Optional[Callable[[float], Awaitable[Any]]] = None
        self.stats: Optional[Callable[[], Any]] = None
        options = dict(spec.get("options") or {})
        if self.lib in ("raven-ng", "raven"):
            import raven

            client = raven.Client(spec["dsn"], transport=transport_class(spec.get("transport")), **options)
            self.version = getattr(raven, "VERSION", "?")
            self.module_file = raven.__file__
            self.capture_message: Callable[[], Any] = lambda: client.captureMessage(MESSAGE)
            self.capture_exception: Callable[[], Any] = client.captureException
            if hasattr(client, "flush"):
                self.flush = client.flush
            self.aflush = getattr(client, "aflush", None)
            if hasattr(client, "delivery_stats"):
                self.stats = client.delivery_stats
            self.client = client
        elif self.lib == "sentry-sdk":
            import sentry_sdk

            sentry_sdk.init(dsn=spec["dsn"], **options)
            self.version = sentry_sdk.VERSION
            self.module_file = sentry_sdk.__file__
            self.capture_message = lambda: sentry_sdk.capture_message(MESSAGE)
            self.capture_exception = sentry_sdk.capture_exception
            self.flush = lambda timeout: sentry_sdk.flush(timeout)
        else:
            raise SystemExit(f"unknown lib {self.lib!r}")

    def one(self, event: str) -> float:
        if event == "exception":
            return timed_exception(self.capture_exception)
        capture = self.capture_message
        t0 = time.perf_counter()
        capture()
        return time.perf_counter() - t0

    def delivery_stats(self) -> Any:
        if self.stats is None:
            return None
        try:
            value = self.stats()
        except Exception as e:  # the bench reports, never crashes on a stats shape
            return f"error: {e!r}"
        if hasattr(value, "__dataclass_fields__"):
            import dataclasses

            return dataclasses.asdict(value)
        return value


def summarize(times: List[float]) -> Dict[str, float]:
    ordered = sorted(times)
    n = len(ordered)
    return {
        "mean_us": sum(ordered) / n * 1e6,
        "p50_us": ordered[n // 2] * 1e6,
        "p90_us": ordered[min(n - 1, int(n * 0.9))] * 1e6,
        "p99_us": ordered[min(n - 1, int(n * 0.99))] * 1e6,
        "max_us": ordered[-1] * 1e6,
    }


async def run_overhead(spec: Dict[str, Any], ad: Adapter, ops: Ops) -> None:
    """Mean time of the capture call alone; in a loop family it yields to the loop between calls."""
    event, n = spec.get("event", "message"), int(spec["n"])
    pause = ops.pause if ops.yields else None
    for _ in range(int(spec.get("warmup", 0))):
        ad.one(event)
        if pause is not None:
            await pause()
    gc.collect()
    times = [0.0] * n
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        times[i] = ad.one(event)
        if pause is not None:
            await pause()  # not timed: lets the loop run the sends, as an application's loop would
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    emit(
        phase="result",
        n=n,
        loop_s=wall,
        process_cpu_us_per_call=cpu / n * 1e6,
        delivery_stats=ad.delivery_stats(),
        **summarize(times),
    )
    if spec.get("then_wait"):
        # Not timed: the driver watches how many of the burst reach the sink, then says "exit".
        await ops.readline()
        emit(phase="after", delivery_stats=ad.delivery_stats())


async def run_throughput(spec: Dict[str, Any], ad: Adapter, ops: Ops) -> None:
    """Capture n events as fast as possible; the driver watches the sink for their arrival."""
    event, n = spec.get("event", "message"), int(spec["n"])
    pause = ops.pause if ops.yields else None
    cpu0 = time.process_time()
    t_first = time.monotonic()
    for _ in range(n):
        ad.one(event)
        if pause is not None:
            await pause()
    t_captured = time.monotonic()
    flushed = None
    if spec.get("flush", True):
        flushed = await flush(ops, ad, float(spec.get("flush_timeout", 60)))
    emit(
        phase="captured", t_first=t_first, t_captured=t_captured, t_flushed=time.monotonic(), flushed=flushed
    )
    await ops.readline()  # the driver says when the sink has them all (or gave up waiting)
    emit(
        phase="result",
        process_cpu_us_per_event=(time.process_time() - cpu0) / n * 1e6,
        delivery_stats=ad.delivery_stats(),
    )


async def run_paced(spec: Dict[str, Any], ad: Adapter, ops: Ops) -> None:
    """Capture n events ``interval_s`` apart, stay idle ``idle_s`` as an application would, then flush;
    the driver lets the process exit normally and counts what reached the sink."""
    event, n = spec.get("event", "message"), int(spec["n"])
    interval, idle = float(spec.get("interval_s", 0.005)), float(spec.get("idle_s", 3.0))
    cpu0 = time.process_time()
    t_first = time.monotonic()
    for _ in range(n):
        ad.one(event)
        await ops.pause(interval)
    cpu_idle0, t_idle = time.process_time(), time.monotonic()
    await ops.pause(idle)
    cpu_idle, t_idle_end = time.process_time() - cpu_idle0, time.monotonic()
    flushed = await flush(ops, ad, float(spec.get("flush_timeout", 2.0)))
    emit(
        phase="result",
        t_first=t_first,
        t_idle=t_idle,
        t_idle_end=t_idle_end,
        t_flushed=time.monotonic(),
        flushed=flushed,
        process_cpu_us_per_event=(time.process_time() - cpu0) / n * 1e6,
        idle_cpu_us=cpu_idle * 1e6,
        delivery_stats=ad.delivery_stats(),
    )


# -- loop families -----------------------------------------------------------------------------------


class Ops:
    """How a run's body waits in its loop family; the plain family: nothing yields, stdin blocks."""

    yields = False

    async def pause(self, seconds: float = 0.0) -> None:
        """Let the loop run (``sleep(seconds)``; by default once); never timed. The plain family has
        no loop: it sleeps only when ``seconds`` is positive."""
        if seconds > 0:
            time.sleep(seconds)

    async def readline(self) -> str:
        """The driver's next line, without blocking the loop."""
        return sys.stdin.readline()

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A call that blocks its thread (sentry-sdk's flush), kept off the loop."""
        return fn(*args)

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        trampoline(body())


def trampoline(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine whose awaits never suspend (the plain and green families' ``Ops``)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a body awaited something that suspends outside an event loop")


class GeventOps(Ops):
    """After ``gevent.monkey.patch_all()``; the body runs in a greenlet, blocking calls are green."""

    yields = True

    def __init__(self) -> None:
        from gevent import monkey

        monkey.patch_all()
        import gevent

        self.gevent = gevent

    async def pause(self, seconds: float = 0.0) -> None:
        self.gevent.sleep(seconds)

    async def readline(self) -> str:
        return str(self.gevent.get_hub().threadpool.apply(sys.stdin.readline))

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.gevent.spawn(trampoline, body()).get()


class EventletOps(Ops):
    """After ``eventlet.monkey_patch()``; the body runs in a green thread, blocking calls are green."""

    yields = True

    def __init__(self) -> None:
        import eventlet

        eventlet.monkey_patch()
        import eventlet.tpool

        self.eventlet = eventlet

    async def pause(self, seconds: float = 0.0) -> None:
        self.eventlet.sleep(seconds)

    async def readline(self) -> str:
        return str(self.eventlet.tpool.execute(sys.stdin.readline))

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.eventlet.spawn(trampoline, body()).wait()


class AsyncioOps(Ops):
    """``asyncio.run(body())``; blocking calls go to the default executor."""

    yields = True

    async def pause(self, seconds: float = 0.0) -> None:
        import asyncio

        await asyncio.sleep(seconds)

    async def readline(self) -> str:
        return str(await self.blocking(sys.stdin.readline))

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        import asyncio

        asyncio.run(body())


class TornadoOps(AsyncioOps):
    """Tornado 6 runs on asyncio: ``asyncio.run(main())`` is its documented entry point; the body
    makes the IOLoop current (``IOLoop.current()``), as a Tornado application has it."""

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        import asyncio

        from tornado.ioloop import IOLoop

        async def main() -> None:
            IOLoop.current()
            await body()

        asyncio.run(main())


class TwistedOps(Ops):
    """The body is a coroutine on the running reactor (``Deferred.fromCoroutine``)."""

    yields = True

    def __init__(self) -> None:
        from twisted.internet import reactor, task, threads

        self.reactor: Any = reactor
        self.task, self.threads = task, threads

    async def pause(self, seconds: float = 0.0) -> None:
        await self.task.deferLater(self.reactor, seconds, lambda: None)

    async def readline(self) -> str:
        return str(await self.blocking(sys.stdin.readline))

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.threads.deferToThread(fn, *args)

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        from twisted.internet.defer import Deferred

        def start() -> None:
            done: Any = Deferred.fromCoroutine(body())
            done.addErrback(lambda failure: failure.printTraceback(file=sys.stderr))
            done.addBoth(lambda _: self.reactor.stop())

        self.reactor.callWhenRunning(start)
        self.reactor.run()


FAMILIES: Dict[str, Callable[[], Ops]] = {
    "none": Ops,
    "gevent": GeventOps,
    "eventlet": EventletOps,
    "asyncio": AsyncioOps,
    "tornado": TornadoOps,
    "twisted": TwistedOps,
}


async def flush(ops: Ops, ad: Adapter, timeout: float) -> Any:
    """Flush in the loop's idiom: raven-ng's ``await client.aflush()`` on asyncio/Tornado, the Deferred
    its ``flush`` returns on the reactor, a blocking call elsewhere (green in the green families);
    sentry-sdk's flush joins a thread, so it runs off the loop. raven 6.10 has no flush."""
    if ad.flush is None:
        return None
    if ad.lib == "raven-ng":
        if isinstance(ops, AsyncioOps) and ad.aflush is not None:
            return await ad.aflush(timeout)
        result = ad.flush(timeout)
        return (await result) if hasattr(result, "addCallback") else result
    return await ops.blocking(ad.flush, timeout)


async def in_loop(spec: Dict[str, Any], ops: Ops) -> None:
    """The client is made, captures from and flushes on the loop's own thread."""
    try:
        t0 = time.perf_counter()
        ad = Adapter(spec)
        emit(phase="ready", version=ad.version, module_file=ad.module_file, init_s=time.perf_counter() - t0)
        await {"overhead": run_overhead, "throughput": run_throughput, "paced": run_paced}[spec["kind"]](
            spec, ad, ops
        )
    except BaseException as e:
        traceback.print_exc()
        emit(phase="error", error=f"{type(e).__name__}: {e}")
        os._exit(1)
    if spec.get("fast_exit", True):
        os._exit(0)  # inside the loop: skips the loop's teardown and the library's exit wait


def run_rss(spec: Dict[str, Any], ad: Adapter) -> None:
    event, n = spec.get("event", "message"), int(spec["n"])
    for _ in range(int(spec.get("warmup", 0))):
        ad.one(event)
    gc.collect()
    before = rss_kib()
    total = 0.0
    for _ in range(n):
        total += ad.one(event)
    gc.collect()
    after = rss_kib()
    emit(
        phase="result",
        n=n,
        **rss_growth(before, after),
        mean_us=total / n * 1e6,
        delivery_stats=ad.delivery_stats(),
    )


def run_exit(spec: Dict[str, Any], ad: Adapter) -> None:
    """Capture n events, report, then let the interpreter exit normally (the libraries' atexit hooks)."""
    event, n = spec.get("event", "message"), int(spec["n"])
    t_first = time.monotonic()
    for _ in range(n):
        ad.one(event)
    emit(phase="captured", t_first=t_first, t_captured=time.monotonic())


# -- the machine's floor ---------------------------------------------------------------------------


def typical_events() -> Dict[str, Dict[str, Any]]:
    """A message event and a 10-frame exception event shaped like what the clients send."""
    base = {
        "event_id": "8d3c0c6b2f6e4a7d9b1e0c6f5a4b3c2d",
        "timestamp": "2024-01-01T12:00:00.000000Z",
        "platform": "python",
        "level": "error",
        "logger": "root",
        "server_name": "bench-host.example.internal",
        "release": "1.2.3",
        "environment": "production",
        "sdk": {"name": "raven-ng", "version": "7.0.0"},
        "tags": {"component": "bench", "region": "eu-west-1"},
        "extra": {"sys.argv": ["bench/run.py", "--quick"]},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"}},
        "breadcrumbs": {"values": []},
    }
    message = dict(base, logentry={"message": MESSAGE, "params": [], "formatted": MESSAGE})
    frames = []
    for i in range(10):
        frames.append(
            {
                "filename": f"app/pipeline/step_{i}.py",
                "abs_path": f"/srv/app/src/app/pipeline/step_{i}.py",
                "module": f"app.pipeline.step_{i}",
                "function": "descend",
                "lineno": 40 + i,
                "pre_context": [
                    "    label = 'step-%d' % depth",
                    "    meta = {'depth': depth}",
                    "",
                    "    # a",
                    "    # b",
                ],
                "context_line": "        raise ValueError('benchmark failure in %s' % label)",
                "post_context": ["    descend(depth - 1, items)", "", "", "def other():", "    pass"],
                "in_app": True,
                "vars": {
                    "depth": str(i),
                    "items": "[1, 2.5, 'three', None, b'four', (5, 6)]",
                    "label": f"'step-{i}'",
                    "meta": {"depth": str(i), "ratio": "%r" % (i / 3.0), "even": "True", "none": "None"},
                    "widget": f"<Widget {i} widget-{i}>",
                },
            }
        )
    exc = dict(
        base,
        exception={
            "values": [
                {
                    "type": "ValueError",
                    "value": "benchmark failure in step-1 (<Widget 1 widget-1>, 5 keys)",
                    "module": "builtins",
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
    )
    return {"message": message, "exception": exc}


def per_op_us(fn: Callable[[], Any], n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def gzip_bytes(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def run_floor(spec: Dict[str, Any]) -> None:
    import http.client

    events = typical_events()
    out: Dict[str, Any] = {"phase": "result"}
    reps = int(spec.get("codec_reps", 500))
    for name, ev in events.items():
        raw = json.dumps(ev).encode()
        out[f"{name}_json_bytes"] = len(raw)
        out[f"{name}_json_us"] = per_op_us(functools.partial(json.dumps, ev), reps)
        for level in (1, 6, 9):
            out[f"{name}_gzip{level}_us"] = per_op_us(functools.partial(gzip_bytes, raw, level), reps)
            out[f"{name}_gzip{level}_bytes"] = len(gzip_bytes(raw, level))
    raw = json.dumps(events["exception"]).encode()
    envelope = (
        b'{"event_id":"8d3c0c6b2f6e4a7d9b1e0c6f5a4b3c2d"}\n'
        + json.dumps({"type": "event", "length": len(raw)}).encode()
        + b"\n"
        + raw
        + b"\n"
    )
    body = gzip_bytes(envelope, 6)
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=bench/1, sentry_key=key",
    }
    host, port, path = spec["host"], int(spec["port"]), spec["path"]
    limit = float(spec.get("seconds", 3.0))

    def posts(n: int, keep_alive: bool) -> float:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        t0 = time.perf_counter()
        done = 0
        for _ in range(n):
            if not keep_alive:
                conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"floor: sink answered {resp.status}")
            if not keep_alive:
                conn.close()
            done += 1
            if time.perf_counter() - t0 > limit:
                break
        conn.close()
        return done / (time.perf_counter() - t0)

    out["keepalive_posts_per_s"] = posts(int(spec["n"]), True)
    out["new_connection_posts_per_s"] = posts(max(1, int(spec["n"]) // 4), False)
    out["post_body_bytes"] = len(body)
    emit(**out)


def main() -> None:
    spec = json.loads(sys.argv[1])
    ops = FAMILIES[spec.get("loop") or "none"]()  # a green family patches here, before the library
    start_watchdog(float(spec.get("deadline", 60)))
    emit(phase="start", python=sys.version.split()[0], pid=os.getpid())
    if spec["lib"] == "floor":
        run_floor(spec)
        os._exit(0)
    kind = spec["kind"]
    if kind in ("overhead", "throughput", "paced"):
        ops.run(functools.partial(in_loop, spec, ops))
        return
    t0 = time.perf_counter()
    ad = Adapter(spec)
    emit(phase="ready", version=ad.version, module_file=ad.module_file, init_s=time.perf_counter() - t0)
    if kind == "exit":
        run_exit(spec, ad)
        return  # normal interpreter exit: the library's atexit hooks decide what gets delivered
    run_rss(spec, ad)
    if spec.get("fast_exit", True):
        # Skip the library's atexit wait: what happens at exit is measured by the "exit" runs only.
        # (A profiler wrapping this script needs a normal exit: set "fast_exit": false.)
        os._exit(0)


if __name__ == "__main__":
    main()
