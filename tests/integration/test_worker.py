"""The background worker: interpreter exit, fork, raven 6.10-style user transports, throughput."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from typing import Any, Callable

import pytest
from pipeline import Pipeline
from servers import Answer, LoopbackServer, SilentServer

from raven._runtime.dispatchers import CallbackDispatcher, SyncDispatcher
from raven.exceptions import InvalidDsn, RateLimited
from raven.transport.base import AsyncTransport, Transport

Build = Callable[..., Pipeline]

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(os.path.dirname(TESTS), "src")

# A child process: builds a threaded pipeline to DSN, submits COUNT events, then does TAIL.
CHILD = """
import logging, os, sys, time
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="LOG %(name)s %(levelname)s %(message)s")
sys.path[:0] = [{src!r}, {tests!r}]
from servers import make_item
from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn
from raven._runtime.dispatchers import open_dispatcher
from raven.transport.registry import make_transport
from raven.transport.threaded import ThreadedHTTPTransport
from raven.version import CLIENT_NAME

dsn = Dsn.parse({dsn!r})
transport = make_transport(ThreadedHTTPTransport, dsn)
core = DeliveryCore(dsn, transport.options, CLIENT_NAME)
dispatcher = open_dispatcher(transport, core)
for i in range({count}):
    dispatcher.submit(make_item("event %d" % i))
{tail}
"""


def run_child(
    dsn: str, count: int, tail: str = "", timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], float]:
    code = CHILD.format(src=SRC, tests=TESTS, dsn=dsn, count=count, tail=textwrap.dedent(tail))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return result, time.monotonic() - started


# -- interpreter exit


def test_exit_with_never_answering_server_is_bounded(silent_server: SilentServer) -> None:
    result, elapsed = run_child(silent_server.dsn(query="shutdown_timeout=1&timeout=10"), 5)
    assert result.returncode == 0, result.stderr
    assert elapsed < 8.0  # 1 s of shutdown_timeout plus interpreter start-up, generously
    assert result.stdout == ""
    assert "5 event(s) could not be sent before exit" in result.stderr


def test_exit_delivers_pending_events(http_server: LoopbackServer) -> None:
    http_server.default = Answer(delay=0.01)
    result, _ = run_child(http_server.dsn(query="max_connections=2"), 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(http_server.events()) == 50
    assert "could not be sent" not in result.stderr


def test_exit_opens_more_connections_for_a_backlog(http_server: LoopbackServer) -> None:
    # One connection at 0.1 s per event delivers 20 events in the 2 s exit wait; a backlog of 40
    # leaves in time only because exit may use 4 x max_connections senders.
    http_server.default = Answer(delay=0.1)
    result, _ = run_child(http_server.dsn(query="max_connections=1&shutdown_timeout=2"), 40)
    assert result.returncode == 0, result.stderr
    assert "could not be sent" not in result.stderr
    assert len(http_server.events()) == 40
    assert http_server.connections == 4


def test_client_exit_delivers_pending_events(http_server: LoopbackServer) -> None:
    code = f"""
import sys
sys.path.insert(0, {SRC!r})
from raven import Client
client = Client({http_server.dsn()!r})
for i in range(10):
    client.captureMessage("message %d" % i)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(http_server.events()) == 10


# -- fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_sends_on_its_own_connection(http_server: LoopbackServer) -> None:
    tail = """
    assert dispatcher.flush(5)  # the parent's connection is open now
    pid = os.fork()
    if pid == 0:
        dispatcher.submit(make_item("from the child"))
        ok = dispatcher.flush(5) and core.stats()["sent"] == 2
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    dispatcher.submit(make_item("from the parent, after the fork"))
    assert dispatcher.flush(5)
    print("child", os.waitstatus_to_exitcode(status), file=sys.stderr)
    """
    result, _ = run_child(http_server.dsn(), 1, tail)
    assert result.returncode == 0, result.stderr
    assert "child 0" in result.stderr
    requests = http_server.wait_for_requests(3)
    by_message = {r.events()[0]["logentry"]["message"]: r.connection_id for r in requests if r.events()}
    parent_conn = by_message["event 0"]
    assert by_message["from the child"] != parent_conn  # the child opened its own connection
    assert by_message["from the parent, after the fork"] == parent_conn  # the parent's was untouched


# -- raven 6.10-style user transports


class UrllibTransport(Transport):
    """A blocking transport as users wrote them for raven 6.10."""

    scheme = ["urllib+http"]

    def __init__(self, timeout: str = "1") -> None:
        self.timeout = float(timeout)
        self.calls = 0

    def send(self, url: str, data: bytes, headers: Any) -> None:
        self.calls += 1
        request = urllib.request.Request(url, data=data, headers=dict(headers))
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()


class ThreadAsyncTransport(AsyncTransport):
    """An async transport as users wrote them for raven 6.10: a thread per send, callbacks."""

    scheme = ["thread+http"]

    def __init__(self, timeout: str = "1") -> None:
        self.inner = UrllibTransport(timeout)

    def async_send(self, url: str, data: bytes, headers: Any, success_cb: Any, error_cb: Any) -> None:
        def run() -> None:
            try:
                self.inner.send(url, data, headers)
            except Exception as exc:
                error_cb(exc)
            else:
                success_cb()

        threading.Thread(target=run, daemon=True).start()


def test_user_sync_transport(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(query="timeout=2"), UrllibTransport)
    assert isinstance(p.dispatcher, SyncDispatcher)
    assert p.transport.timeout == 2.0
    p.submit()
    (request,) = http_server.wait_for_requests(1)
    assert request.is_envelope and request.headers["content-encoding"] == "gzip"
    assert p.sent == 1


def test_user_sync_transport_http_errors_follow_the_rules(
    http_server: LoopbackServer, pipeline: Build
) -> None:
    # urllib raises HTTPError: its status and headers (rate limits included) are honoured.
    http_server.script(Answer(500), Answer(429, {"X-Sentry-Rate-Limits": "60:error:organization"}))
    p = pipeline(http_server.dsn(), UrllibTransport)
    p.submit()
    p.submit()
    p.submit()
    assert p.lost("send_error:error") == 1
    assert p.lost("ratelimit_backoff:error") == 2
    assert p.transport.calls == 2


def test_user_sync_transport_network_error(refused_dsn: Callable[..., str], pipeline: Build) -> None:
    p = pipeline(refused_dsn(), UrllibTransport)
    p.submit()
    assert p.lost("network_error:error") == 1


def test_user_transport_raising_rate_limited(http_server: LoopbackServer, pipeline: Build) -> None:
    class Limited(Transport):
        def __init__(self) -> None:
            self.calls = 0

        def send(self, url: str, data: bytes, headers: Any) -> None:
            self.calls += 1
            raise RateLimited("slow down", 30)

    p = pipeline(http_server.dsn(), Limited)
    p.submit()
    p.submit()
    assert p.transport.calls == 1
    assert p.lost("ratelimit_backoff:error") == 2


def test_user_transport_unknown_option_is_invalid_dsn(http_server: LoopbackServer, pipeline: Build) -> None:
    with pytest.raises(InvalidDsn, match="verify_ssl"):
        pipeline(http_server.dsn(query="verify_ssl=0"), UrllibTransport)


def test_user_transport_rejecting_a_value_is_invalid_dsn(
    http_server: LoopbackServer, pipeline: Build
) -> None:
    with pytest.raises(InvalidDsn, match="timeout"):
        pipeline(http_server.dsn(query="timeout=soon"), UrllibTransport)


def test_user_async_transport(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(), ThreadAsyncTransport)
    assert isinstance(p.dispatcher, CallbackDispatcher)
    for _ in range(5):
        p.submit()
    assert p.flush(10)
    assert p.sent == 5
    assert len(http_server.events()) == 5


def test_user_async_transport_errors(http_server: LoopbackServer, pipeline: Build) -> None:
    http_server.default = Answer(503)
    p = pipeline(http_server.dsn(), ThreadAsyncTransport)
    for _ in range(3):
        p.submit()
    assert p.flush(10)
    assert p.lost("send_error:error") == 3


def test_user_async_transport_never_calling_back_is_bounded(
    http_server: LoopbackServer, pipeline: Build
) -> None:
    class Silent(AsyncTransport):
        def async_send(self, url: str, data: bytes, headers: Any, success_cb: Any, error_cb: Any) -> None:
            pass

    p = pipeline(http_server.dsn(), Silent)
    for _ in range(150):
        p.submit()
    assert p.flush(0.2) is False
    assert p.lost("queue_overflow:error") == 50  # maximum_outstanding_requests = 100


# -- sender threads


def test_senders_grow_with_a_backlog_and_shrink_when_idle(
    http_server: LoopbackServer, pipeline: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raven._runtime import worker as worker_module

    monkeypatch.setattr(worker_module, "EXTRA_SENDER_IDLE", 0.2)
    http_server.default = Answer(delay=0.05)  # a remote server: each request takes 50 ms
    p = pipeline(http_server.dsn(query="max_connections=3"))
    worker = p.dispatcher
    assert isinstance(worker, worker_module.Worker)
    p.submit()  # the server answers 2xx: from now on a backlog may use more connections
    assert p.flush(5)
    for _ in range(30):
        p.submit()
    deadline = time.monotonic() + 5
    while worker.senders < 3:
        assert time.monotonic() < deadline, "senders did not grow with the backlog"
        time.sleep(0.01)
    assert p.flush(10)
    assert http_server.connections == 3
    deadline = time.monotonic() + 10
    while worker.senders > 1:
        assert time.monotonic() < deadline, "extra senders did not exit"
        time.sleep(0.05)
    p.submit()
    assert p.flush(5)
    assert p.sent == 32


def test_a_burst_against_a_server_not_yet_heard_from_goes_one_at_a_time(
    http_server: LoopbackServer, pipeline: Build
) -> None:
    http_server.default = Answer(status=429, headers={"Retry-After": "30"}, delay=0.05)
    p = pipeline(http_server.dsn(query="max_connections=4"))
    for _ in range(20):
        p.submit()
    assert p.flush(5)
    # One request found out the server's state; the other 19 were dropped before leaving.
    assert len(http_server.requests) == 1
    assert p.dispatcher.senders == 1
    assert p.lost("ratelimit_backoff:error") == 20


def test_concurrent_submitters_every_event_accounted(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(query="queue_size=200"))
    threads = [threading.Thread(target=lambda: [p.submit() for _ in range(300)]) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert p.flush(30)
    assert p.sent + p.lost("queue_overflow:error") == 1800
    assert len(http_server.events()) == p.sent


# -- throughput (reported, not asserted)


def test_throughput_through_the_worker(http_server: LoopbackServer, pipeline: Build) -> None:
    p = pipeline(http_server.dsn(query="queue_size=100000"))
    count = 3000
    items = [__import__("servers").make_item(f"event {i}") for i in range(count)]
    started = time.perf_counter()
    for item in items:
        p.dispatcher.submit(item)
    submitted = time.perf_counter()
    assert p.flush(60)
    finished = time.perf_counter()
    assert p.sent == count
    print(
        f"\nthreaded worker: {count / (finished - started):.0f} events/s to the loopback server, "
        f"submit {1e6 * (submitted - started) / count:.1f} us/event, {http_server.connections} connections"
    )
