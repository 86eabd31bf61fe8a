"""The fault matrix: every transport against every way a server misbehaves.

Each cell is a fresh process (``children/fault_child.py``) running one transport in its own world
(plain threads, gevent, eventlet, asyncio, Tornado on asyncio, Twisted) against a server scripted
here, in the parent. The child captures 50 messages 10 ms apart with ``?timeout=0.5``, flushes,
and closes the world's way. Every cell asserts what matters to the application and to the server:

* nothing raised into the caller, nothing written to stdout, the process exits promptly;
* the caller's longest capture and the loop's longest stall stay small (the synchronous
  transports excepted: their caller waits for the reply by design, at most about ``timeout``);
* every event is accounted for when ``close`` returns (sent, or lost under the right reason);
* what the server received: how many requests, with which events, and never a request inside a
  rate-limit window; client reports alone at most once (at the close);
* a bounded number of log lines (one per kind of problem, not one per event).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from servers import Answer, LoopbackServer, RecordedRequest, SilentServer, refused_port, server_tls_context

CHILD = Path(__file__).parent / "children" / "fault_child.py"
SRC = Path(__file__).resolve().parents[2] / "src"

COUNT = 50
INTERVAL = 0.01
TIMEOUT = 0.5

#: transport -> the world it runs in (fault_child.py's WORLD).
WORLDS = {
    "sync": "threads",
    "threaded": "threads",
    "requests": "threads",
    "threaded_requests": "threads",
    "gevent": "gevent",
    "eventlet": "eventlet",
    "tornado": "asyncio",
    "twisted": "twisted",
    "asyncio": "asyncio",
}
#: The transports whose caller waits for the reply (no queue).
SYNCHRONOUS = {"sync", "requests"}
#: The longest a capture may take on a transport that queues, and the longest a loop may stall.
#: Generous: a loaded 2-core CI machine; the measured figures are a few milliseconds.
MAX_CAPTURE = 0.25
MAX_STALL = 0.3
#: The longest a synchronous capture may take: one ``timeout`` (name resolution included).
MAX_SYNC_CAPTURE = TIMEOUT + 0.6
#: The longest from close returning to the process being gone.
MAX_EXIT = 3.0
#: Log lines of ours and of the libraries' own loggers, for 50 events.
MAX_LOG_LINES = 10

LIBRARIES = {
    "requests": "requests",
    "threaded_requests": "requests",
    "gevent": "gevent",
    "eventlet": "eventlet",
    "tornado": "tornado",
    "twisted": "twisted",
    "asyncio": "aiohttp",
}


@dataclass
class Cell:
    """What one child reported, plus what the parent saw."""

    transport: str
    fault: str
    result: dict[str, Any]
    stderr: str
    exit_after_close: float

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.result["stats"])

    @property
    def lost(self) -> dict[str, int]:
        return {key: n for key, n in self.stats["lost"].items() if n}

    @property
    def synchronous(self) -> bool:
        return self.transport in SYNCHRONOUS

    def describe(self) -> str:
        shown = {k: v for k, v in self.result.items() if k not in ("ids", "log")}
        log = "\n".join(self.result.get("log", [])[-20:])
        stderr = self.stderr[-3000:]
        return f"{self.transport} / {self.fault}: {json.dumps(shown)}\nlog:\n{log}\nstderr:\n{stderr}"


def run_cell(transport: str, fault: str, dsn: str, **params: Any) -> Cell:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("SENTRY_DSN", None)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    payload = {
        "world": WORLDS[transport],
        "transport": transport,
        "dsn": dsn,
        "count": COUNT,
        "interval": INTERVAL,
        **params,
    }
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(payload)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"{transport} / {fault}: the child did not finish\n{stderr[-3000:]}") from None
    ended = time.monotonic()
    lines = stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, (
        f"{transport} / {fault}: exit {proc.returncode}\nstdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-4000:]}"
    )
    result = json.loads(lines[0])
    assert "error" not in result, f"{transport} / {fault}: {result['error']}"
    return Cell(transport, fault, result, stderr, ended - float(result.get("closed_at", ended)))


def check_common(cell: Cell, captured: int = COUNT) -> None:
    """What every cell must show, whatever the server did."""
    result = cell.result
    what = cell.describe()
    assert result["raised"] == 0, what
    assert len([i for i in result["ids"] if i]) == captured, what
    assert result["stdout_bytes"] == 0, what
    limit = MAX_SYNC_CAPTURE if cell.synchronous else MAX_CAPTURE
    assert result["longest_capture"] < limit, what
    if result.get("longest_stall") is not None and not cell.synchronous:
        assert result["longest_stall"] < MAX_STALL, what
    # Every event accounted for when close returned.
    assert cell.stats["sent"] + sum(cell.lost.values()) == captured, what
    assert cell.exit_after_close < MAX_EXIT, what
    assert len(result["log"]) <= MAX_LOG_LINES, what
    if cell.transport == "twisted":
        assert result["close_is_deferred"] is True, what


def event_requests(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.events()]


def report_only(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if not r.events() and r.items_of_type("client_report")]


def event_ids(requests: list[RecordedRequest]) -> list[str]:
    return [event["event_id"] for r in requests for event in r.events()]


# -- the servers, one per fault


@dataclass
class Fault:
    """How a fault is served, and what a cell against it must show."""

    name: str
    serve: Callable[[Any], contextlib.AbstractContextManager[Any]]
    check: Callable[[Cell, Any], None]
    flush: float = 5.0
    close: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    host: Optional[str] = None  # a DSN host other than the server's (name resolution faults)
    #: Captures for the synchronous transports (each waits for its reply: 50 x 300 ms is long).
    sync_count: int = COUNT


@contextlib.contextmanager
def answering(answer: Answer, tls: Any = None) -> Iterator[LoopbackServer]:
    with LoopbackServer(tls_context=tls) as server:
        server.default = answer
        yield server


@contextlib.contextmanager
def refusing(_: Any) -> Iterator[Any]:
    sock = refused_port()
    host, port = sock.getsockname()[:2]
    try:
        yield _Address(host, port, "http")
    finally:
        sock.close()


@contextlib.contextmanager
def silent(_: Any) -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@contextlib.contextmanager
def restarting(_: Any) -> Iterator[Any]:
    """Refuses connections for 2 s from the child's start, then answers 200."""
    sock = refused_port()
    host, port = sock.getsockname()[:2]
    address = _Address(host, port, "http")
    sock.close()  # nothing listens until the restart
    timer = threading.Timer(2.0, lambda: address.servers.append(LoopbackServer(port=port).start()))
    timer.start()
    try:
        yield address
    finally:
        timer.cancel()
        timer.join()
        for server in address.servers:
            server.stop()


@dataclass
class _Address:
    host: str
    port: int
    scheme: str
    servers: list[LoopbackServer] = field(default_factory=list)

    @property
    def requests(self) -> list[RecordedRequest]:
        return [r for server in self.servers for r in server.requests]


def dsn_for(server: Any, fault: Fault, query: str) -> str:
    host = fault.host or server.host
    scheme = getattr(server, "scheme", "http")
    return f"{scheme}://public@{host}:{server.port}/1?{query}"


# -- what each fault must show


def nothing_arrived(cell: Cell, server: Any) -> None:
    """The server was never reached (refused, bad certificate, no name): every event is a
    network error, counted by the close at the latest."""
    assert cell.lost == {"network_error:error": cell.result["captured"]}, cell.describe()
    assert list(getattr(server, "requests", [])) == [], cell.describe()


def tls_refused(cell: Cell, server: LoopbackServer) -> None:
    nothing_arrived(cell, server)
    # One handshake after another failed: the pause grows, so a handful, not one per event.
    assert 1 <= server.connections <= 8, cell.describe()


def never_answers(cell: Cell, server: SilentServer) -> None:
    assert cell.lost == {"network_error:error": cell.result["captured"]}, cell.describe()
    # One request at a time, each waiting its timeout, then a pause: not one per event.
    assert 1 <= server.connections <= 6, cell.describe()


def slow(cell: Cell, server: LoopbackServer) -> None:
    captured = cell.result["captured"]
    assert cell.stats == {"sent": captured, "lost": {}}, cell.describe()
    assert sorted(event_ids(server.requests)) == sorted(cell.result["ids"]), cell.describe()
    assert len(server.requests) == captured, cell.describe()


def refused_each(status: int) -> Callable[[Cell, LoopbackServer], None]:
    """413/500/503: exactly one request per event, one report alone at most (at the close)."""

    def check(cell: Cell, server: LoopbackServer) -> None:
        captured = cell.result["captured"]
        assert cell.lost == {"send_error:error": captured}, cell.describe()
        assert sorted(event_ids(server.requests)) == sorted(cell.result["ids"]), cell.describe()
        assert len(event_requests(server.requests)) == captured, cell.describe()
        assert len(report_only(server.requests)) <= 1, cell.describe()
        assert len(server.requests) <= captured + 1, cell.describe()
        assert all(r.headers.get("x-sentry-auth") for r in server.requests)

    check.__name__ = f"refused_{status}"
    return check


def rate_limited(categories_limited: str) -> Callable[[Cell, LoopbackServer], None]:
    """A 429 on the first request: nothing more inside the window, except (when only errors are
    limited) one client report at the flush."""

    def check(cell: Cell, server: LoopbackServer) -> None:
        captured = cell.result["captured"]
        assert cell.lost == {"ratelimit_backoff:error": captured}, cell.describe()
        assert len(event_requests(server.requests)) == 1, cell.describe()
        later = server.requests[1:]
        if categories_limited == "error":
            # The drops go in one client report at the flush (internal data is not limited).
            assert len(later) == 1 and report_only(later) == later, cell.describe()
            for request in later:
                [report] = request.items_of_type("client_report")
                # The event the 429 refused is the server's to count, not ours.
                assert report["discarded_events"] == [
                    {"reason": "ratelimit_backoff", "category": "error", "quantity": captured - 1}
                ], cell.describe()
        else:
            assert later == [], cell.describe()

    return check


def burst_within_the_limit(cell: Cell, server: LoopbackServer) -> None:
    """50 captures at once into a server answering after 50 ms: all delivered, never more than
    ``max_connections`` (4) requests in flight."""
    slow(cell, server)
    # Requests, not sockets: a transport that closes each connection (Tornado's client) may
    # open the next before the server has seen the last one close.
    assert server.most_in_flight <= 4, cell.describe()


def broken_replies(cell: Cell, server: LoopbackServer) -> None:
    """A reply reset half-way or no HTTP at all. Where the status line came whole (a reply reset
    in its body), the server has decided: sent. With no HTTP answer the senders pause, so the
    server gets a few requests, not one per event (a stale keep-alive connection may cost one
    resend), and what waits is counted at the close."""
    captured = cell.result["captured"]
    sent = cell.stats["sent"]
    assert set(cell.lost) <= {"network_error:error"}, cell.describe()
    assert len(event_requests(server.requests)) <= 2 * captured, cell.describe()
    if sent < captured:  # not every reply was taken as an answer: the pause kept it to a few
        assert len(set(event_ids(server.requests))) <= sent + 8, cell.describe()
    assert report_only(server.requests) == [], cell.describe()


def back_after_outage(cell: Cell, server: _Address) -> None:
    captured = cell.result["captured"]
    if cell.synchronous:
        # No queue: what was captured while the server was down is lost, the rest arrives.
        assert cell.stats["sent"] + cell.lost.get("network_error:error", 0) == captured, cell.describe()
        assert len(event_ids(server.requests)) == cell.stats["sent"], cell.describe()
        return
    assert cell.stats == {"sent": captured, "lost": {}}, cell.describe()
    ids = event_ids(server.requests)
    assert sorted(ids) == sorted(cell.result["ids"]), cell.describe()  # each exactly once


FAULTS = [
    Fault("refused", refusing, nothing_arrived, flush=1.0),
    Fault("never_answers", silent, never_answers, flush=1.0),
    Fault("slow", lambda _: answering(Answer(delay=0.3)), slow, flush=15.0, sync_count=10),
    Fault(
        "429_rate_limits",
        lambda _: answering(Answer(429, {"X-Sentry-Rate-Limits": "60:error:key"})),
        rate_limited("error"),
    ),
    Fault(
        "429_burst",  # 50 captures at once: the first request finds out, the rest never leave
        lambda _: answering(Answer(429, {"X-Sentry-Rate-Limits": "60:error:key"}, delay=0.05)),
        rate_limited("error"),
        params={"interval": 0},
    ),
    Fault(
        "burst",
        lambda _: answering(Answer(delay=0.05)),
        burst_within_the_limit,
        flush=15.0,
        params={"interval": 0},
    ),
    Fault("429_retry_after", lambda _: answering(Answer(429, {"Retry-After": "60"})), rate_limited("all")),
    Fault("429_bare", lambda _: answering(Answer(429)), rate_limited("all")),
    Fault("413", lambda _: answering(Answer(413)), refused_each(413)),
    Fault("500", lambda _: answering(Answer(500, body=b'{"detail":"internal error"}')), refused_each(500)),
    Fault("503", lambda _: answering(Answer(503, body=b"Service Unavailable")), refused_each(503)),
    Fault("reset_mid_reply", lambda _: answering(Answer(action="reset_mid_reply")), broken_replies),
    Fault("malformed_reply", lambda _: answering(Answer(action="garbage")), broken_replies),
    Fault(
        "self_signed",
        lambda ca: answering(Answer(), tls=server_tls_context(ca, "127.0.0.1")),
        tls_refused,
        flush=1.0,
    ),
    Fault(
        "wrong_host",
        lambda ca: answering(Answer(), tls=server_tls_context(ca, "sentry.other.invalid")),
        tls_refused,
        flush=1.0,
        params={"trust_ca": True},
    ),
    Fault("unresolvable", refusing, nothing_arrived, flush=1.0, host="sentry.invalid"),
    Fault(
        "slow_dns",
        refusing,
        nothing_arrived,
        flush=1.0,
        host="slow-dns.invalid",
        params={"slow_dns": 3.0, "slow_host": "slow-dns.invalid"},
    ),
    Fault("down_2s", restarting, back_after_outage, flush=10.0),
]


def _skip_without(transport: str) -> None:
    library = LIBRARIES.get(transport)
    if library is not None:
        pytest.importorskip(library)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("transport", list(WORLDS))
def test_fault_matrix(transport: str, fault: Fault, tls_ca: Any, ca_pem: str) -> None:
    _skip_without(transport)
    with fault.serve(tls_ca) as server:
        query = f"timeout={TIMEOUT}"
        if fault.params.get("trust_ca"):
            query += f"&ca_certs={ca_pem}"
        count = fault.sync_count if transport in SYNCHRONOUS else COUNT
        params = {k: v for k, v in fault.params.items() if k != "trust_ca"}
        cell = run_cell(
            transport,
            fault.name,
            dsn_for(server, fault, query),
            flush=fault.flush,
            close=fault.close,
            count=count,
            **params,
        )
        cell.result["captured"] = count
        report(cell, server)
        check_common(cell, count)
        fault.check(cell, server)


def report(cell: Cell, server: Any) -> None:
    """One JSON line per cell on stdout (shown with ``pytest -s``): the matrix's figures."""
    requests = list(getattr(server, "requests", []))
    result = cell.result
    print(
        json.dumps(
            {
                "transport": cell.transport,
                "fault": cell.fault,
                "captured": result["captured"],
                "event_requests": len(event_requests(requests)),
                "report_requests": len(report_only(requests)),
                "connections": getattr(server, "connections", None),
                "most_in_flight": getattr(server, "most_in_flight", None),
                "sent": cell.stats["sent"],
                "lost": cell.lost,
                "longest_capture_ms": round(result["longest_capture"] * 1000, 1),
                "longest_stall_ms": None
                if result.get("longest_stall") is None
                else round(result["longest_stall"] * 1000, 1),
                "close_s": round(result["close_seconds"], 2),
                "exit_after_close_s": round(cell.exit_after_close, 2),
                "log_lines": len(result["log"]),
            }
        )
    )


@pytest.mark.parametrize("transport", list(WORLDS))
def test_idle_after_one_failed_event_costs_nothing(transport: str) -> None:
    """One event against a 500 server, then seconds of normal running: at most the event and one
    report reach the server, and the process stays idle."""
    _skip_without(transport)
    with answering(Answer(500)) as server:
        dsn = server.dsn(query=f"timeout={TIMEOUT}")
        cell = run_cell(transport, "idle", dsn, count=1, flush=2.0, close=0.5, idle=3.0)
        cell.result["captured"] = 1
        check_common(cell, 1)
        assert len(event_requests(server.requests)) == 1, cell.describe()
        assert len(server.requests) <= 2, cell.describe()
        assert cell.result["idle_cpu"] < 0.2, cell.describe()  # 3 s of idling: nearly no CPU
