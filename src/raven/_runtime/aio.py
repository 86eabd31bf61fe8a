"""Delivery on an asyncio event loop, shared by the asyncio (aiohttp) and tornado transports.

A :class:`LoopDispatcher` drives a :class:`~raven._runtime.pump.Pump` on one asyncio loop; the
transport only supplies a :class:`Poster` (``await post(request)`` -> Reply or Failure, never
raises) built on that loop. Tornado 6 runs on asyncio, so both transports share this.

Which loop (policy):

* the first event binds the dispatcher to the loop running in the capturing thread;
* if no loop runs there, to a private loop on a daemon thread (``raven-ng-<name>``), started then;
* captures from other threads hop onto the bound loop with ``call_soon_threadsafe``;
* once the bound loop is closed (``asyncio.run`` returned), the next event binds again.

Shutdown: a small guardian task lives on the bound loop. When the loop shuts down
(``asyncio.run`` cancels every task) or the client closes, the guardian and the send tasks keep
delivering what is pending for at most ``shutdown_timeout``; then what is left, queued or in
flight, is counted lost (one log line), the send tasks are cancelled and the HTTP client closed.
At interpreter exit, a loop that still runs (private thread, daemon thread) is shut down the same
way from the exiting thread, within ``shutdown_timeout``; a loop that is stopped but not closed is
run until its events are delivered (again at most ``shutdown_timeout``).

``flush(timeout)`` blocks when called off the bound loop; on the loop it cannot wait (that would
stall the loop) and only says whether everything is settled: use ``await flush_async(timeout)``.
``close(timeout)`` on the loop returns the shutdown Task to await (as ``await aclose(timeout)``).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
import weakref
from typing import Any, Callable, Optional, Protocol, TypeVar

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import TransportOptions
from raven._delivery.model import EventItem, Failure, FailureKind, Outcome, Request
from raven._runtime.connection import classify
from raven._runtime.dispatch import Dispatcher
from raven._runtime.logs import errors
from raven._runtime.pump import Pump

__all__ = ("LoopDispatcher", "LoopTransport", "Poster", "classify_by_table", "off_loop", "running_loop")

T = TypeVar("T")


class Poster(Protocol):
    """An HTTP client on one loop: ``post`` returns a Reply or a Failure and never raises."""

    async def post(self, request: Request) -> Outcome: ...

    async def aclose(self) -> None: ...


PosterFactory = Callable[[], Poster]


def running_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _uncancel() -> None:
    """Forget a cancellation we decided to survive (3.11+: keeps asyncio.timeout correct)."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


FailureTable = tuple[tuple[type[BaseException], FailureKind], ...]


def classify_by_table(exc: BaseException, table: FailureTable) -> Failure:
    """``exc`` as a Failure: the kind of the first entry of the HTTP library's ``table`` it is an
    instance of, else the stdlib classification (socket and TLS errors)."""
    for exc_type, kind in table:
        if isinstance(exc, exc_type):
            detail = str(exc) or type(exc).__name__
            return Failure(kind, f"{type(exc).__name__}: {detail}")
    return classify(exc, "exchange")


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in the loop's default executor (slow setup such as loading a CA bundle must
    not stall the loop); called inline when the executor refuses work (at interpreter exit)."""
    try:
        future = asyncio.get_running_loop().run_in_executor(None, func, *args)
    except RuntimeError:
        return func(*args)
    return await future


def _call_quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        errors.error("aio:callback", "Sentry: a delivery callback failed", exc_info=True)


class _Binding:
    """The dispatcher's state on one loop. Everything but construction runs on that loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pump: Pump,
        make_poster: PosterFactory,
        shutdown_timeout: float,
        private: Optional[_PrivateLoop],
    ) -> None:
        self.loop = loop
        self.pump = pump
        self.make_poster = make_poster
        self.shutdown_timeout = shutdown_timeout
        self.private = private
        self.pid = os.getpid()
        self.poster: Optional[Poster] = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.guardian: Optional[asyncio.Task[None]] = None
        self.stop_signal: Optional[asyncio.Future[None]] = None  # resolved by shutdown()
        self.orphans: list[Request] = []  # requests of send tasks cancelled before they started
        self.draining = False  # shutting down: survive one cancellation, deliver until the deadline
        self.drain_started = 0.0
        self.closing_as = "close"  # or "exit", "the event loop stopped": for the log line
        self.hard_stop = False  # the drain deadline passed: give up
        self.pump_closed = False
        self.finished = False
        pump.start_task = self._start_task
        pump.resume_later = self._resume_later

    # -- on the loop

    def offer(self, item: EventItem) -> None:
        try:
            if self.guardian is None and not self.finished:
                self.stop_signal = self.loop.create_future()
                self.guardian = self.loop.create_task(self._guard())
                # If the application closes the loop without cancelling its tasks, the idle
                # guardian is not worth asyncio's "Task was destroyed but it is pending!" error.
                try:
                    self.guardian._log_destroy_pending = False  # type: ignore[attr-defined]
                except AttributeError:
                    pass
            self.pump.offer(item)
        except Exception:
            errors.error("aio:offer", "Sentry: queuing an event failed", exc_info=True)

    def kick(self) -> None:
        """A flush: the pump may start a send task for the pending client report alone."""
        try:
            if not self.finished:
                self.pump.kick()
        except Exception:
            errors.error("aio:kick", "Sentry: sending the client report failed", exc_info=True)

    async def flushed(self, timeout: float) -> bool:
        """A flush on the loop: True once everything, the pending client report included, is settled."""
        self.kick()
        return await self.wait_idle(timeout)

    def _resume_later(self, delay: float) -> None:
        self.loop.call_later(delay, self._resume)

    def _resume(self) -> None:
        """The pause after a failed connection is over: send the queued events again."""
        try:
            if not self.finished:
                self.pump.resume()
        except Exception:
            errors.error("aio:resume", "Sentry: resuming delivery failed", exc_info=True)

    def _start_task(self) -> None:
        started = [False]
        task = self.loop.create_task(self._send(started))
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._send_done(done, started))

    async def _send(self, started: list[bool]) -> None:
        started[0] = True
        await self._drive(self.pump.take())

    async def _drive(self, request: Optional[Request]) -> None:
        pump = self.pump
        while request is not None:
            try:
                outcome = await self._post(request)
            except asyncio.CancelledError:
                self._give_up()  # past the shutdown deadline: what is queued or in flight is lost
                pump.abandon(request)
                raise
            request = pump.finish(request, outcome)

    def _send_done(self, task: asyncio.Task[None], started: list[bool]) -> None:
        self.tasks.discard(task)
        if started[0] or not task.cancelled():
            return
        # Cancelled before its first step (the loop shut down just after the capture): its slot
        # in the pump is still taken. The guardian, which the shutdown waits for, sends for it.
        request = self.pump.take()
        if request is not None:
            if self.hard_stop:
                self.pump.abandon(request)
            else:
                self.orphans.append(request)

    async def _post(self, request: Request) -> Outcome:
        while True:
            try:
                if self.poster is None:
                    self.poster = self.make_poster()
                return await self.poster.post(request)
            except asyncio.CancelledError:
                if self.hard_stop:
                    raise
                # The loop is shutting down: survive it for shutdown_timeout. The interrupted POST
                # is sent again (Sentry drops a duplicate by its event id).
                _uncancel()
                self.begin_drain(self.shutdown_timeout)
            except Exception as exc:  # a Poster must not raise; if it does, the event is not lost silently
                return Failure(FailureKind.OTHER, f"{type(exc).__name__}: {exc}")

    def begin_drain(self, timeout: float) -> None:
        if not self.draining:
            self.draining = True
            self.drain_started = self.loop.time()
            self.loop.call_later(max(0.0, timeout), self._stop_now)

    def _give_up(self) -> None:
        """Count every event still queued or in flight as lost (once), with one log line."""
        if not self.pump_closed:
            self.pump_closed = True
            waited = self.loop.time() - self.drain_started if self.draining else 0.0
            self.pump.close(waited, self.closing_as)

    def _stop_now(self) -> None:
        self._give_up()
        self.hard_stop = True
        for task in list(self.tasks):
            task.cancel()

    async def _guard(self) -> None:
        assert self.stop_signal is not None
        try:
            await self.stop_signal  # until the client closes ...
        except asyncio.CancelledError:
            _uncancel()  # ... or the loop shuts down (asyncio.run cancels every task)
            self.closing_as = "the event loop stopped"
        self.kick()  # what was lost goes in a last client report, if the server is reachable
        self.begin_drain(self.shutdown_timeout)
        deadline = self.loop.time() + self.shutdown_timeout
        try:
            idle = False
            while True:
                try:
                    if self.orphans:
                        await self._drive(self.orphans.pop())
                        continue
                    # Short waits: a send task cancelled before it started leaves an orphan.
                    remaining = deadline - self.loop.time()
                    idle = await self.wait_idle(max(0.0, min(remaining, 0.05)))
                    if idle or remaining <= 0.05:
                        break
                except asyncio.CancelledError:  # cancelled again: the deadline still decides
                    _uncancel()
                    if self.loop.time() >= deadline:
                        break
            if not idle:
                self._stop_now()
        finally:
            self._finish()
            poster, self.poster = self.poster, None
            if poster is not None:
                try:
                    await poster.aclose()
                except BaseException:
                    pass

    def _finish(self) -> None:
        self.finished = True
        self._give_up()
        _unregister(self)

    async def wait_idle(self, timeout: float) -> bool:
        """True once nothing is unsettled; False after ``timeout`` seconds."""
        future: asyncio.Future[bool] = self.loop.create_future()

        def idle() -> None:
            if not future.done():
                future.set_result(True)

        def late() -> None:
            if not future.done():
                future.set_result(False)

        self.pump.when_idle(idle)
        handle = self.loop.call_later(max(0.0, timeout), late)
        try:
            return await future
        finally:
            handle.cancel()
            self.pump.forget(idle)

    async def shutdown(self, timeout: float, when: str = "close") -> None:
        """Deliver for at most ``timeout`` seconds, count what is left, then close the HTTP client."""
        self.shutdown_timeout = timeout
        self.closing_as = when
        guardian = self.guardian
        if guardian is None:
            self._finish()
            return
        if self.stop_signal is not None and not self.stop_signal.done():
            self.stop_signal.set_result(None)
        await asyncio.wait({guardian})

    # -- from other threads

    def flush_blocking(self, timeout: float) -> bool:
        done = threading.Event()

        def idle() -> None:
            done.set()

        try:
            self.loop.call_soon_threadsafe(self.kick)
            self.loop.call_soon_threadsafe(self.pump.when_idle, idle)
        except RuntimeError:  # closed meanwhile
            return False
        if done.wait(timeout):
            return True
        try:
            self.loop.call_soon_threadsafe(self.pump.forget, idle)
        except RuntimeError:
            pass
        return False

    def release(self) -> None:
        """The dispatcher was garbage-collected: deliver what is pending, then stop a private loop."""
        if self.private is None or self.pid != os.getpid():
            return

        async def stop() -> None:
            try:
                await self.shutdown(self.shutdown_timeout)
            finally:
                self.loop.stop()

        try:
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(stop()))
        except RuntimeError:
            pass

    def at_exit(self, timeout: float) -> None:
        """At interpreter exit: deliver for at most ``timeout`` where the loop can still run."""
        if self.pid != os.getpid() or self.finished:
            return
        self.closing_as = "exit"
        if self.loop.is_closed():
            self._give_up()  # closed without a shutdown we could run (or its tasks never started)
            return
        if self.loop.is_running():
            self.run_coroutine(self.shutdown(timeout, "exit"), timeout + 1.0)
            if self.private is not None:
                self.private.stop(1.0)
        elif running_loop() is None:
            self.loop.run_until_complete(self.shutdown(timeout, "exit"))

    def run_coroutine(self, coroutine: Any, timeout: float) -> Any:
        """Run ``coroutine`` on the bound loop from another thread; None if it did not finish."""
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)
        except Exception:
            return None


class _PrivateLoop:
    """An event loop on a daemon thread, for events captured while no loop runs."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name=name, daemon=True)
        self.thread.start()
        ready.wait(5.0)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.close()
            except Exception:
                pass

    def stop(self, timeout: float) -> None:
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)


class LoopDispatcher:
    """The :class:`~raven._runtime.dispatch.Dispatcher` of the loop transports (see the module doc).

    ``limit`` is the number of concurrent send tasks (each uses one connection).
    """

    def __init__(
        self,
        core: DeliveryCore,
        options: TransportOptions,
        make_poster: PosterFactory,
        limit: int,
        name: str,
    ) -> None:
        self.core = core
        self.options = options
        self.make_poster = make_poster
        self.limit = limit
        self.name = name
        self._lock = threading.Lock()
        self._binding: Optional[_Binding] = None
        self._closed = False

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The loop events are sent from (None before the first event)."""
        binding = self._binding
        return binding.loop if binding is not None else None

    # -- Dispatcher

    def submit(self, item: EventItem) -> None:
        """Hand ``item`` to the loop; never blocks, never raises."""
        try:
            binding = self._bind()
            if binding is None:
                return
            if running_loop() is binding.loop:
                binding.offer(item)
            else:
                binding.loop.call_soon_threadsafe(binding.offer, item)
        except Exception:
            errors.error("aio:submit", "Sentry: handing an event to the event loop failed", exc_info=True)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Block until everything is settled (off the loop). On the loop: True if nothing is pending."""
        try:
            binding = self._binding
            if binding is None or binding.pid != os.getpid():
                return True
            limit = self._timeout(timeout)
            running = running_loop()
            if running is binding.loop:
                if binding.pump.unsettled == 0:
                    return True
                errors.warning(
                    "aio:flush-on-loop",
                    "Sentry: flush() cannot wait on the event loop it would block; "
                    "use 'await transport.aflush(timeout)' there",
                )
                return False
            if binding.loop.is_closed():
                return binding.pump.unsettled == 0
            if binding.loop.is_running():
                return binding.flush_blocking(limit)
            if running is None:  # a stopped loop: run it here until the events are out
                return bool(binding.loop.run_until_complete(binding.flushed(limit)))
            return binding.pump.unsettled == 0
        except Exception:
            errors.error("aio:flush", "Sentry: flush failed", exc_info=True)
            return False

    async def flush_async(self, timeout: Optional[float] = None) -> bool:
        """Wait, without blocking the running loop, until everything is settled; False on timeout."""
        try:
            binding = self._binding
            if binding is None or binding.pid != os.getpid():
                return True
            limit = self._timeout(timeout)
            if running_loop() is binding.loop:
                return await binding.flushed(limit)
            if binding.loop.is_running():
                future: Any = asyncio.run_coroutine_threadsafe(binding.flushed(limit), binding.loop)
                return bool(await asyncio.wrap_future(future))
            return binding.pump.unsettled == 0
        except Exception:
            errors.error("aio:flush", "Sentry: flush failed", exc_info=True)
            return False

    def close(self, timeout: Optional[float] = None) -> Optional[asyncio.Task[None]]:
        """Deliver for at most ``timeout``, then stop: blocking off the loop; on the loop it cannot
        wait, so it returns the shutdown Task to await (``await transport.aclose()`` is the same)."""
        with self._lock:
            self._closed = True
            binding = self._binding
        if binding is None or binding.pid != os.getpid():
            return None
        try:
            limit = self._timeout(timeout)
            running = running_loop()
            if running is binding.loop:
                return binding.loop.create_task(binding.shutdown(limit))
            if binding.loop.is_closed():
                return None
            if binding.loop.is_running():
                started = time.monotonic()
                binding.run_coroutine(binding.shutdown(limit), limit + 1.0)
                if binding.private is not None:
                    binding.private.stop(max(0.1, limit + 1.0 - (time.monotonic() - started)))
            elif running is None:
                binding.loop.run_until_complete(binding.shutdown(limit))
        except Exception:
            errors.error("aio:close", "Sentry: close failed", exc_info=True)
        return None

    async def close_async(self, timeout: Optional[float] = None) -> None:
        """Deliver for at most ``timeout`` without blocking the loop, then stop."""
        with self._lock:
            self._closed = True
            binding = self._binding
        if binding is None or binding.pid != os.getpid():
            return
        limit = self._timeout(timeout)
        if running_loop() is binding.loop:
            await binding.shutdown(limit)
        elif binding.loop.is_running():
            future: Any = asyncio.run_coroutine_threadsafe(binding.shutdown(limit), binding.loop)
            await asyncio.wrap_future(future)
            if binding.private is not None:
                binding.private.stop(1.0)

    def when_settled(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the bound loop) once every event submitted before this call is
        settled, sent or counted lost; at once when there is no loop to wait on. Never raises.

        For per-event outcomes (``raven.contrib.tornado``): an event dropped before any request
        (a rate limit, a full queue, a close) has no settlement of its own; this says when it
        can no longer get one. Under a steady stream of events the call waits for a lull.
        """
        binding = self._binding
        if binding is None or binding.pid != os.getpid() or binding.loop.is_closed() or binding.finished:
            _call_quietly(callback)
            return

        def register() -> None:  # after the submissions already scheduled on the loop
            binding.pump.when_idle(lambda: _call_quietly(callback))

        try:
            if running_loop() is binding.loop:
                register()
            else:
                binding.loop.call_soon_threadsafe(register)
        except RuntimeError:  # the loop closed meanwhile
            _call_quietly(callback)

    # -- internals

    def _timeout(self, timeout: Optional[float]) -> float:
        return float(self.options.shutdown_timeout) if timeout is None else max(0.0, float(timeout))

    def _bind(self) -> Optional[_Binding]:
        running = running_loop()
        with self._lock:
            if self._closed:
                return None
            binding = self._binding
            if (
                binding is not None
                and binding.pid == os.getpid()
                and not binding.loop.is_closed()
                and not binding.finished
            ):
                return binding
            loop: asyncio.AbstractEventLoop
            private: Optional[_PrivateLoop] = None
            if running is not None:
                loop = running
            else:
                private = _PrivateLoop(f"raven-ng-{self.name}")
                loop = private.loop
            if binding is not None:
                _unregister(binding)
                if binding.loop.is_closed():
                    binding._give_up()  # count what it could not send
            pump = Pump(self.core, self.options, self.limit)
            binding = _Binding(loop, pump, self.make_poster, self.options.shutdown_timeout, private)
            self._binding = binding
            _register(binding)
            if private is not None:
                # A client dropped without close() must not leave its loop thread behind. Not at
                # exit: the exit hook delivers first.
                weakref.finalize(self, binding.release).atexit = False
            return binding


class LoopTransport:
    """The loop side of a transport on :class:`LoopDispatcher` (asyncio, tornado): the dispatcher
    per client and the awaitable ``aflush`` / ``aclose``. The transport supplies ``options``,
    ``loop_name`` (the private loop thread's name) and ``_new_poster``."""

    options: TransportOptions
    loop_name = "loop"

    def _new_poster(self) -> Poster:
        raise NotImplementedError

    @property
    def _loop_dispatchers(self) -> weakref.WeakSet[LoopDispatcher]:
        dispatchers: Optional[weakref.WeakSet[LoopDispatcher]] = self.__dict__.get("_loop_dispatcher_set")
        if dispatchers is None:
            dispatchers = self.__dict__["_loop_dispatcher_set"] = weakref.WeakSet()
        return dispatchers

    def open_dispatcher(self, core: DeliveryCore) -> Dispatcher:
        """Bounded by ``max_connections`` concurrent sends (also the HTTP client's connection limit)."""
        limit = self.options.max_connections
        dispatcher = LoopDispatcher(core, self.options, self._new_poster, limit, self.loop_name)
        self._loop_dispatchers.add(dispatcher)
        return dispatcher

    async def aflush(self, timeout: Optional[float] = None) -> bool:
        """Await until every event captured through this transport is settled; False on timeout."""
        results = [await d.flush_async(timeout) for d in list(self._loop_dispatchers)]
        return all(results)

    async def aclose(self, timeout: Optional[float] = None) -> None:
        """Deliver for at most ``timeout``, then close the HTTP client (the awaitable ``close``)."""
        for dispatcher in list(self._loop_dispatchers):
            await dispatcher.close_async(timeout)


# -- one atexit hook for every loop with work pending

# Bindings with work that may still be pending, held strongly: an event captured through a client
# the application then dropped is still delivered.
_live: set[_Binding] = set()
_live_lock = threading.Lock()


def _register(binding: _Binding) -> None:
    with _live_lock:
        _live.add(binding)


def _unregister(binding: _Binding) -> None:
    with _live_lock:
        _live.discard(binding)


def _shutdown_all() -> None:
    """At interpreter exit: each loop delivers for at most its ``shutdown_timeout``, together at
    most the longest of them."""
    with _live_lock:
        bindings = list(_live)
    if not bindings:
        return
    deadline = time.monotonic() + max(b.shutdown_timeout for b in bindings)
    for binding in bindings:
        try:
            remaining = max(0.0, deadline - time.monotonic())
            binding.at_exit(min(binding.shutdown_timeout, remaining))
        except Exception:
            pass


atexit.register(_shutdown_all)
