"""Real loopback servers for the integration tests, and helpers to read what they received.

* :class:`LoopbackServer`: a threaded HTTP/1.1 server (keep-alive capable, optionally TLS) on
  127.0.0.1, port 0. It records every request (decoded body, parsed envelope) and answers each one
  as scripted: status, headers, body, delay, never answer, drop or reset the connection, break the
  reply half-way. It counts the TCP connections it accepted.
* :class:`SilentServer`: accepts connections, reads whatever arrives, never answers.
* :func:`refused_port`: a port nothing listens on (bound, not listening, so no one else takes it).
* :func:`parse_envelope`, :func:`make_event`, :func:`make_item`.

Waiting for requests uses a condition with a deadline, never sleeps.
"""

from __future__ import annotations

import gzip
import http.server
import json
import selectors
import socket
import socketserver
import ssl
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

#: What an :class:`Answer` may do instead of replying normally.
ACTIONS = (
    "respond",
    "hang",
    "drop",
    "reset",
    "close_mid_reply",
    "reset_mid_reply",
    "reset_in_headers",
    "garbage",
)


@dataclass(frozen=True)
class Answer:
    """How the server answers one request.

    ``action``:
      * ``respond``: a normal reply (after ``delay`` seconds);
      * ``hang``: never answer (until the server stops);
      * ``drop``: close the connection without a byte of reply (FIN);
      * ``reset``: abort the connection with a TCP RST, no reply;
      * ``close_mid_reply`` / ``reset_mid_reply``: send the status line, the headers and part of
        the promised body, then close (FIN) / abort (RST);
      * ``reset_in_headers``: send the status line and part of a header, then abort (RST);
      * ``garbage``: answer bytes that are not HTTP at all, then close.

    ``close_after``: after a normal reply, close the connection silently (no ``Connection: close``
    header), as a server does with an idle keep-alive connection; the client finds out on reuse.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"id": "00000000000000000000000000000000"}'
    delay: float = 0.0
    action: str = "respond"
    close_after: bool = False

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split an (uncompressed) envelope into its header and its ``(item_header, payload)`` items."""
    newline = body.find(b"\n")
    if newline < 0:
        return json.loads(body), []
    header = json.loads(body[:newline])
    items: list[tuple[dict[str, Any], bytes]] = []
    pos = newline + 1
    while pos < len(body):
        end = body.find(b"\n", pos)
        if end < 0:
            end = len(body)
        line = body[pos:end]
        pos = end + 1
        if not line.strip():
            continue
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is not None:
            payload = body[pos : pos + length]
            pos += length
            if pos < len(body) and body[pos : pos + 1] == b"\n":
                pos += 1
        else:
            end = body.find(b"\n", pos)
            if end < 0:
                end = len(body)
            payload = body[pos:end]
            pos = end + 1
        items.append((item_header, payload))
    return header, items


def decode_body(raw: bytes, encoding: str) -> bytes:
    """Undo a ``Content-Encoding`` (gzip, deflate in zlib or raw form, identity)."""
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        try:
            return zlib.decompress(raw)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)
    return raw


@dataclass
class RecordedRequest:
    """One request as the server saw it. ``headers`` keys are lowercase."""

    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    connection_id: int
    received_at: float

    @property
    def body(self) -> bytes:
        """The body with its Content-Encoding undone."""
        return decode_body(self.raw_body, self.headers.get("content-encoding", ""))

    @property
    def is_envelope(self) -> bool:
        return self.path.split("?", 1)[0].endswith("/envelope/")

    @property
    def is_store(self) -> bool:
        return self.path.split("?", 1)[0].endswith("/store/")

    @property
    def envelope(self) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
        return parse_envelope(self.body)

    def json(self) -> Any:
        return json.loads(self.body)

    def items_of_type(self, item_type: str) -> list[Any]:
        """Decoded JSON payloads of the envelope's items of ``item_type``."""
        _, items = self.envelope
        return [json.loads(payload) for header, payload in items if header.get("type") == item_type]

    def events(self) -> list[dict[str, Any]]:
        """The events this request carries: the store body, or the envelope's event items."""
        if self.is_store:
            return [self.json()]
        if self.is_envelope:
            return list(self.items_of_type("event"))
        return []

    @property
    def auth(self) -> dict[str, str]:
        """The ``X-Sentry-Auth`` fields (``sentry_version``, ``sentry_key`` ...)."""
        value = self.headers.get("x-sentry-auth", "")
        if value.lower().startswith("sentry "):
            value = value[7:]
        pairs = (part.strip().split("=", 1) for part in value.split(",") if "=" in part)
        return {k.strip(): v.strip() for k, v in pairs}


def _wait(
    cond: threading.Condition, ready: Callable[[], bool], timeout: float, what: Callable[[], str]
) -> None:
    """With ``cond`` held: wait until ``ready()``; AssertionError naming ``what()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not ready():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout}s waiting for {what()}")
        cond.wait(remaining)


class _HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    owner: LoopbackServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN, which can be slow: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Broken connections are what many tests are about; stay quiet.
        self.owner.handler_errors += 1


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # buffered: a reply leaves in one write (with TCP_NODELAY, no Nagle stalls)
    server: _HTTPServer
    _aborted = False

    def setup(self) -> None:
        owner = self.server.owner
        self.connection_id = owner._on_connect()
        context = owner.tls_context
        if context is not None:
            self.request.settimeout(10)
            try:
                self.request = context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                owner._on_tls_failure()
                raise
            self.request.settimeout(None)
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        owner._track(self.request)
        super().setup()

    def finish(self) -> None:
        if not self._aborted:
            try:
                super().finish()
            except OSError:
                pass
        self.server.owner._on_disconnect(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        owner = self.server.owner
        record = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_body=self._read_body(),
            connection_id=self.connection_id,
            received_at=time.monotonic(),
        )
        answer = owner._record(record)
        stopped = bool(answer.delay) and owner._stopping.wait(answer.delay)
        if answer.action == "hang" and not stopped:
            owner._stopping.wait()
        # Before any byte of the answer, so the client cannot start its next request first.
        owner._on_answering()
        if stopped or answer.action == "hang":
            self._abort(reset=False)
        elif answer.action in ("drop", "reset"):
            self._abort(reset=answer.action == "reset")
        elif answer.action == "garbage":
            self.wfile.write(b"SSH-2.0-OpenSSH_9.2 this is not an HTTP server\r\n\r\n")
            self.wfile.flush()
            self._abort(reset=False)
        elif answer.action == "reset_in_headers":
            self.wfile.write(f"HTTP/1.1 {answer.status} OK\r\nContent-Ty".encode("latin-1"))
            self.wfile.flush()
            self._abort(reset=True)
        elif answer.action in ("close_mid_reply", "reset_mid_reply"):
            head = f"HTTP/1.1 {answer.status} Partial\r\nContent-Length: {len(answer.body) + 1000}\r\n\r\n"
            self.wfile.write(head.encode("latin-1") + answer.body[: max(1, len(answer.body) // 2)])
            self.wfile.flush()
            self._abort(reset=answer.action == "reset_mid_reply")
        else:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name in answer.headers):
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            self.wfile.flush()
            if answer.close_after:
                self.close_connection = True

    def _abort(self, reset: bool) -> None:
        """Close the connection now; with ``reset``, as a TCP RST (SO_LINGER 0)."""
        self.close_connection = True
        self._aborted = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        if reset:
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        for stream in (self.rfile, self.wfile):
            try:
                stream.close()
            except OSError:
                pass
        if not reset:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connection.close()


class LoopbackServer:
    """A scripted HTTP/1.1 server on 127.0.0.1 that records what it receives.

    Answers come from, in order: the queue filled by :meth:`script`, then ``responder(request)``
    if set and not returning None, then ``default``.
    """

    def __init__(
        self, tls_context: Optional[ssl.SSLContext] = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.tls_context = tls_context
        self.default = Answer()
        self.responder: Optional[Callable[[RecordedRequest], Optional[Answer]]] = None
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.open_connections = 0
        self.most_open = 0  # the most connections open at once
        self.in_flight = 0  # requests received and not yet answered
        self.most_in_flight = 0
        self.tls_failures = 0
        self.handler_errors = 0
        self._script: deque[Answer] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="loopback-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, release hanging handlers, close every connection, join the threads."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
        with self._cond:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses

    @property
    def scheme(self) -> str:
        return "https" if self.tls_context is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def dsn(
        self,
        key: str = "public",
        project: str = "1",
        prefix: str = "",
        secret: Optional[str] = None,
        query: str = "",
        scheme: Optional[str] = None,
        host: Optional[str] = None,
    ) -> str:
        """A DSN pointing at this server, e.g. ``dsn(prefix="/sentry", query="timeout=0.5")``."""
        userinfo = f"{key}:{secret}" if secret else key
        tail = f"?{query}" if query else ""
        return f"{scheme or self.scheme}://{userinfo}@{host or self.host}:{self.port}{prefix}/{project}{tail}"

    # -- scripting

    def script(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        with self._cond:
            self._script.extend(answers)

    # -- reading what arrived

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests arrived; AssertionError after ``timeout``."""
        return self.wait_until(lambda requests: len(requests) >= count, timeout, f"{count} requests")

    def wait_until(
        self,
        predicate: Callable[[list[RecordedRequest]], bool],
        timeout: float = 10.0,
        what: str = "condition",
    ) -> list[RecordedRequest]:
        with self._cond:
            _wait(
                self._cond,
                lambda: predicate(self.requests),
                timeout,
                lambda: f"{what}; got {len(self.requests)}",
            )
            return list(self.requests)

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` TCP connections were accepted."""
        with self._cond:
            _wait(
                self._cond,
                lambda: self.connections >= count,
                timeout,
                lambda: f"{count} connections; got {self.connections}",
            )

    def events(self) -> list[dict[str, Any]]:
        """Every event received so far, envelope and store."""
        with self._cond:
            requests = list(self.requests)
        return [event for request in requests for event in request.events()]

    def discarded(self) -> dict[str, int]:
        """The discarded events of every client report received so far, as ``{"reason:category": n}``."""
        with self._cond:
            requests = [request for request in self.requests if request.is_envelope]
        counts: dict[str, int] = {}
        for request in requests:
            for report in request.items_of_type("client_report"):
                for entry in report.get("discarded_events", []):
                    key = f"{entry['reason']}:{entry['category']}"
                    counts[key] = counts.get(key, 0) + int(entry["quantity"])
        return counts

    def reset(self) -> None:
        with self._cond:
            self.requests.clear()
            self._script.clear()

    # -- handler callbacks

    def _on_connect(self) -> int:
        with self._cond:
            self.connections += 1
            self.open_connections += 1
            self.most_open = max(self.most_open, self.open_connections)
            self._threads.append(threading.current_thread())
            self._cond.notify_all()
            return self.connections

    def _track(self, sock: socket.socket) -> None:
        with self._cond:
            self._sockets.add(sock)

    def _on_tls_failure(self) -> None:
        with self._cond:
            self.tls_failures += 1
            self.open_connections -= 1
            self._cond.notify_all()

    def _on_disconnect(self, sock: socket.socket) -> None:
        with self._cond:
            if sock in self._sockets:
                self._sockets.discard(sock)
                self.open_connections -= 1
            self._cond.notify_all()

    def _on_answering(self) -> None:
        with self._cond:
            self.in_flight -= 1

    def _record(self, request: RecordedRequest) -> Answer:
        with self._cond:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.requests.append(request)
            self._cond.notify_all()
            if self._script:
                return self._script.popleft()
        responder = self.responder
        if responder is not None:
            answer = responder(request)
            if answer is not None:
                return answer
        return self.default


class SilentServer:
    """Accepts TCP connections, reads and discards what arrives, never answers."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self.bytes_received = 0
        self._cond = threading.Condition()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, name="silent-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def dsn(self, key: str = "public", project: str = "1", query: str = "", scheme: str = "http") -> str:
        tail = f"?{query}" if query else ""
        return f"{scheme}://{key}@{self.host}:{self.port}/{project}{tail}"

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            _wait(
                self._cond,
                lambda: self.connections >= count,
                timeout,
                lambda: f"{count} connections; got {self.connections}",
            )

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    if key.data == "accept":
                        try:
                            conn, _ = self._listener.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        self._conns.append(conn)
                        selector.register(conn, selectors.EVENT_READ, "conn")
                        with self._cond:
                            self.connections += 1
                            self._cond.notify_all()
                    else:
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        try:
                            data = sock.recv(65536)
                        except OSError:
                            data = b""
                        if not data:
                            selector.unregister(sock)
                            sock.close()
                        else:
                            self.bytes_received += len(data)
        finally:
            selector.close()

    def stop(self) -> None:
        self._wake_w.send(b"x")
        self._thread.join(5)
        for conn in self._conns:
            conn.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def refused_port(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a port but not listening: connecting to that port is refused.

    Keep the socket open while the port must stay refused (nobody else can bind it), then close it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


def make_event(message: str = "hello", level: str = "error", **extra: Any) -> dict[str, Any]:
    """A minimal valid Sentry event."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "platform": "python",
        "level": level,
        "logger": "tests",
        "logentry": {"message": message, "formatted": message},
        "sdk": {"name": "raven-ng", "version": "7.0.0"},
    }
    event.update(extra)
    return event


def make_item(message: str = "hello", category: str = "error", **extra: Any) -> Any:
    """An ``EventItem`` carrying :func:`make_event`'s JSON."""
    from raven._delivery.model import EventItem

    event = make_event(message, **extra)
    return EventItem(event_id=event["event_id"], payload=json.dumps(event).encode("utf-8"), category=category)


def server_tls_context(ca: Any, *hostnames: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from the trustme ``ca`` for ``hostnames``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hostnames).configure_cert(context)
    return context


class TunnelProxy:
    """A minimal HTTP proxy for ``CONNECT host:port`` tunnels (HTTPS through a proxy).

    Records each CONNECT target and its ``Proxy-Authorization`` header; pipes bytes both ways.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self.connects: list[tuple[str, Optional[str]]] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="tunnel-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> TunnelProxy:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            auth = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in lines[1:]
                    if ln.lower().startswith("proxy-authorization:")
                ),
                None,
            )
            with self._lock:
                self.connects.append((target, auth))
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=10)
            with self._lock:
                self._sockets.append(upstream)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
            self._pipe(client, upstream)
        except OSError:
            pass

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._thread.join(5)

    def __enter__(self) -> TunnelProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
