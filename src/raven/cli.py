"""``raven test``: check that events get through; ``raven spool``: a durable spool directory.

``raven test DSN`` (or with ``SENTRY_DSN`` set) sends one test event to that server, waits for the
real outcome (no fixed sleep) and exits 0 if it was delivered, 1 with the reason if not.

``raven test`` with no DSN at all is a self-check: it starts a receiver on 127.0.0.1, sends one
event through every transport that can run here, and prints a table (transport, delivered, time).
It exits 0 if every installed transport delivered its event.

``raven spool DIR [--replay --dsn DSN [--timeout S] | --purge]``: what waits in a spool directory,
sent now or deleted (:mod:`raven.cli_spool`).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import json
import logging
import os
import socketserver
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Optional

from raven import cli_spool
from raven._log_collector import LogCollector, collecting
from raven.version import VERSION

__all__ = ("main", "TRANSPORTS", "Receiver", "run_self_check", "run_dsn_test")

#: Transports the self-check exercises: (name, "module:Class"). A transport whose module or
#: library is not installed is reported as skipped. The green transports run their hub while
#: ``flush`` blocks; Twisted needs its reactor running (see :func:`_loop_running`).
TRANSPORTS: tuple[tuple[str, str], ...] = (
    ("HTTPTransport", "raven.transport.http:HTTPTransport"),
    ("ThreadedHTTPTransport", "raven.transport.threaded:ThreadedHTTPTransport"),
    ("RequestsHTTPTransport", "raven.transport.requests:RequestsHTTPTransport"),
    ("ThreadedRequestsHTTPTransport", "raven.transport.threaded_requests:ThreadedRequestsHTTPTransport"),
    ("GeventedHTTPTransport", "raven.transport.gevent:GeventedHTTPTransport"),
    ("EventletHTTPTransport", "raven.transport.eventlet:EventletHTTPTransport"),
    ("TornadoHTTPTransport", "raven.transport.tornado:TornadoHTTPTransport"),
    ("AsyncioHTTPTransport", "raven.transport.asyncio:AsyncioHTTPTransport"),
    ("TwistedHTTPTransport", "raven.transport.twisted:TwistedHTTPTransport"),
)

TEST_MESSAGE = "This is a test message generated using ``raven test``"

#: Seconds to wait for an outcome beyond the transport's own timeout.
_GRACE = 5.0


# -- the embedded receiver


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def _event_ids(path: str, body: bytes) -> list[str]:
    """Ids of the events in an envelope or store body."""
    if path.rstrip("/").endswith("/store"):
        return [str(json.loads(body).get("event_id", ""))]
    newline = body.find(b"\n")
    header = json.loads(body[:newline] if newline >= 0 else body)
    ids = []
    pos = newline + 1 if newline >= 0 else len(body)
    while pos < len(body):
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end
        line, pos = body[pos:end], end + 1
        if not line.strip():
            continue
        item = json.loads(line)
        length = item.get("length")
        if length is None:
            end = body.find(b"\n", pos)
            end = len(body) if end < 0 else end
            payload, pos = body[pos:end], end + 1
        else:
            payload, pos = body[pos : pos + int(length)], pos + int(length) + 1
        if item.get("type") == "event":
            ids.append(str(json.loads(payload).get("event_id") or header.get("event_id", "")))
    return ids


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        try:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = _decode(raw, self.headers.get("Content-Encoding", ""))
            ids = _event_ids(self.path.split("?", 1)[0], body)
        except Exception as exc:
            self._reply(400, json.dumps({"detail": f"unreadable request: {exc}"}).encode())
            return
        self.server.receiver._arrived(ids)
        self._reply(200, json.dumps({"id": ids[0] if ids else None}).encode())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    receiver: Receiver

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the FQDN, which can be slow; not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class Receiver:
    """A minimal Sentry endpoint on 127.0.0.1: accepts envelopes and store posts, notes event ids."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port = int(self._server.server_address[1])
        self._cond = threading.Condition()
        self._ids: dict[str, float] = {}
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def dsn(self) -> str:
        return f"http://selfcheck@127.0.0.1:{self.port}/1"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _arrived(self, ids: list[str]) -> None:
        now = time.perf_counter()
        with self._cond:
            for event_id in ids:
                self._ids.setdefault(event_id, now)
            self._cond.notify_all()

    def wait_for(self, event_id: str, timeout: float) -> Optional[float]:
        """``perf_counter()`` when ``event_id`` arrived, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while event_id not in self._ids:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._ids[event_id]


# -- diagnostics collected while testing


def _quiet_client_options() -> dict[str, Any]:
    # The CLI's client must not hook the process it runs in.
    return {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def _lost_summary(stats: Any) -> str:
    lost = stats.get("lost") or {} if isinstance(stats, dict) else {}
    return ", ".join(f"{reason} x{count}" for reason, count in sorted(lost.items())) or "no outcome"


def _flush_timeout(client: Any) -> float:
    options = getattr(client._core, "options", None)
    return float(getattr(options, "timeout", 1.0)) * 2 + _GRACE


# -- raven test DSN


def get_loadavg() -> Optional[tuple[float, float, float]]:
    return os.getloadavg() if hasattr(os, "getloadavg") else None


def get_uid() -> Optional[str]:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid())[0]
    except Exception:
        return None


def _redacted(dsn: str) -> str:
    from raven._delivery.dsn import redact

    return redact(dsn)


def describe_client(client: Any, out: IO[str]) -> None:
    """Write where ``client`` sends (the secret key is not shown)."""
    remote = client.remote
    out.write("Client configuration:\n")
    for key in ("base_url", "project", "public_key"):
        out.write(f"  {key:<15}: {getattr(remote, key)}\n")
    out.write(f"  {'secret_key':<15}: {'(set)' if remote.secret_key else '(none)'}\n")
    transport = remote.transport_cls
    out.write(f"  {'transport':<15}: {getattr(transport, '__name__', transport)}\n\n")


def send_test_event(
    client: Any, data: Optional[dict[str, Any]], tags: Optional[dict[str, Any]], out: IO[str]
) -> Optional[str]:
    """Capture the test message with ``client`` and write its event id; returns the id."""
    out.write("Sending a test message... ")
    out.flush()
    ident: Optional[str] = client.captureMessage(
        message=TEST_MESSAGE,
        data=data
        if data is not None
        else {
            "culprit": "raven.scripts.runner",
            "logger": "raven.test",
            "request": {"method": "GET", "url": "http://example.com"},
        },
        level=logging.INFO,
        stack=True,
        tags=tags or {},
        extra={"user": get_uid(), "loadavg": get_loadavg()},
    )
    out.write(f"Event ID was {ident!r}\n")
    return ident


def run_dsn_test(
    dsn: str,
    data: Optional[dict[str, Any]] = None,
    tags: Optional[dict[str, Any]] = None,
    out: IO[str] = sys.stdout,
) -> int:
    """Send one test event to ``dsn`` and report the outcome. Returns the exit status."""
    out.write(f"Using DSN configuration:\n  {_redacted(dsn)}\n\n")
    with collecting() as collector:
        return _send_test(dsn, data, tags, out, collector)


def _send_test(
    dsn: str,
    data: Optional[dict[str, Any]],
    tags: Optional[dict[str, Any]],
    out: IO[str],
    collector: LogCollector,
) -> int:
    from raven.base import Client
    from raven.exceptions import ConfigurationError

    try:
        client = Client(dsn, include_paths=["raven"], **_quiet_client_options())
    except (ConfigurationError, ImportError) as exc:
        out.write(f"Error: {exc}\n")
        return 1
    try:
        describe_client(client, out)
        if not client.is_enabled():
            out.write("Error: Client reports as being disabled!\n")
            return 1
        started = time.perf_counter()
        send_test_event(client, data, tags, out)
        settled = client.flush(_flush_timeout(client))
        elapsed = (time.perf_counter() - started) * 1000
        stats = client.delivery_stats()
        if settled and int(stats.get("sent", 0) or 0) >= 1:
            out.write(f"success! (delivered in {elapsed:.0f} ms)\n")
            return 0
        if not settled:
            client.close(timeout=0)  # counts what is still waiting for the server
            stats = client.delivery_stats()
            out.write(
                f"error! not delivered within {_flush_timeout(client):.0f} s ({_lost_summary(stats)})\n"
            )
        else:
            out.write(f"error! the event was not delivered ({_lost_summary(stats)})\n")
        for message in collector.messages:
            out.write(f"  {message}\n")
        return 1
    finally:
        client.close(timeout=1.0)


# -- raven test (self-check)


@dataclass
class CheckResult:
    name: str
    status: str  # "yes", "no", "skipped"
    millis: Optional[float] = None
    detail: str = ""


def _load(path: str) -> type:
    module_name, _, attr = path.partition(":")
    module = __import__(module_name, {}, {}, [attr])
    cls: type = getattr(module, attr)
    return cls


def _missing_library(exc: BaseException) -> bool:
    """True if ``exc`` says an optional library is not installed (not that the transport is broken)."""
    return isinstance(exc, ImportError) or isinstance(exc.__cause__, ImportError) or "pip install" in str(exc)


@contextlib.contextmanager
def _loop_running(path: str) -> Iterator[None]:
    """Run the Twisted reactor in a thread around one check (it cannot be restarted: once a process)."""
    if not path.startswith("raven.transport.twisted:"):
        yield
        return
    from twisted.internet import reactor as installed

    reactor: Any = installed
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        reactor.callFromThread(reactor.stop)
        thread.join(5)


def _check_transport(name: str, path: str, receiver: Receiver) -> CheckResult:
    from raven.base import Client

    try:
        transport = _load(path)
    except Exception as exc:
        if _missing_library(exc):
            return CheckResult(name, "skipped", detail=f"not installed ({exc})")
        return CheckResult(name, "no", detail=f"{type(exc).__name__}: {exc}")
    with collecting() as collector:
        try:
            with warnings.catch_warnings():
                # The check imports every installed library; eventlet's import warns it is deprecated.
                warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
                client = Client(receiver.dsn(), transport=transport, **_quiet_client_options())
        except Exception as exc:
            if _missing_library(exc):
                return CheckResult(name, "skipped", detail=f"not installed ({exc})")
            return CheckResult(name, "no", detail=f"{type(exc).__name__}: {exc}")
        with _loop_running(path):
            return _deliver_one(name, client, receiver, collector)


def _deliver_one(name: str, client: Any, receiver: Receiver, collector: LogCollector) -> CheckResult:
    try:
        started = time.perf_counter()
        ident = client.captureMessage(f"raven test self-check through {name}", level="info")
        if ident is None:
            return CheckResult(name, "no", detail="the client did not capture the event")
        client.flush(_flush_timeout(client))
        arrived = receiver.wait_for(ident, timeout=_GRACE)
        if arrived is None:
            detail = "; ".join(collector.messages) or _lost_summary(client.delivery_stats())
            return CheckResult(name, "no", detail=detail)
        return CheckResult(name, "yes", millis=(arrived - started) * 1000)
    finally:
        client.close(timeout=1.0)


def run_self_check(transports: Sequence[tuple[str, str]] = TRANSPORTS, out: IO[str] = sys.stdout) -> int:
    """Send one event through each transport to an embedded receiver; print a table."""
    with Receiver() as receiver:
        out.write(
            f"raven-ng {VERSION}: no DSN given (pass one, or set SENTRY_DSN, to test your server).\n"
            f"Self-check: one event through each transport to a receiver at http://127.0.0.1:{receiver.port}/\n\n"
        )
        results = [_check_transport(name, path, receiver) for name, path in transports]
    width = max(len("transport"), *(len(r.name) for r in results))
    out.write(f"{'transport':<{width}}  delivered  time (ms)\n")
    for r in results:
        millis = f"{r.millis:9.1f}" if r.millis is not None else f"{'-':>9}"
        line = f"{r.name:<{width}}  {r.status:<9}  {millis}"
        out.write(f"{line}  {r.detail}\n" if r.detail else f"{line}\n")
    installed = [r for r in results if r.status != "skipped"]
    failed = [r for r in installed if r.status != "yes"]
    out.write("\n")
    if not installed:
        out.write("Error: no transport could be loaded.\n")
        return 1
    if failed:
        out.write(f"Error: {len(failed)} of {len(installed)} installed transports did not deliver.\n")
        return 1
    out.write(f"OK: all {len(installed)} installed transports delivered their event.\n")
    return 0


# -- command line


def _json_option(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid JSON: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raven", description="raven-ng, the classic Sentry client.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(dest="command")
    test = commands.add_parser(
        "test",
        help="send a test event",
        description="Send a test event to DSN (or $SENTRY_DSN). Without either, check every transport "
        "against an embedded receiver.",
    )
    test.add_argument("dsn", nargs="*", help="the DSN to send to (default: $SENTRY_DSN)")
    test.add_argument("--data", type=_json_option, help="event fields, as JSON")
    test.add_argument("--tags", type=_json_option, help="event tags, as a JSON object")
    cli_spool.add_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``raven test [DSN]``, ``raven spool DIR ...``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "spool":
        return cli_spool.run(args)
    if args.command != "test":
        parser.print_help()
        return 1
    dsn = " ".join(args.dsn).strip() or os.environ.get("SENTRY_DSN", "").strip()
    if dsn:
        return run_dsn_test(dsn, data=args.data, tags=args.tags)
    return run_self_check()
