"""A fast loopback Sentry sink for the benchmarks (stdlib only, its own process).

    python bench/sink.py [--port 0] [--exit-on-stdin-eof] [--track-ids]

Prints ``PORT <n>`` on stdout once it listens on 127.0.0.1, and stops on SIGTERM/SIGINT, or, with
``--exit-on-stdin-eof`` (what bench/run.py passes), when its stdin reaches end of file, so that it never
outlives the driver that started it.

The behaviour is chosen by the first segment of the request path, so one sink serves every scenario
and a client's DSN alone picks what it meets (``http://key@127.0.0.1:PORT/<mode>/<tag>/1``; clients keep
the DSN path prefix, so requests arrive at ``/<mode>/<tag>/api/1/envelope/`` or ``.../store/``):

- ``ok``: answer 200 at once;
- ``delay<ms>`` (e.g. ``delay50``): answer 200 after that many milliseconds;
- ``hang``: read the request, never answer (the connection stays open until the client gives up);
- ``r429``: answer 429 with ``X-Sentry-Rate-Limits: 60:error:organization`` and ``Retry-After: 60``;
- ``r500``: answer 500 (``{"detail":"internal error"}``, no rate-limit headers).

Events are counted per ``<tag>`` when a request has been fully received (whatever the answer):
a store request is one event; an envelope is decompressed and its item headers read (``event`` items
are events; ``client_report`` items are tallied separately). ``deflate`` (raven 6.10), ``gzip`` and
identity bodies are understood; anything else counts as one undecoded event. Each request's arrival
time is kept too. With ``--track-ids`` (bench/spool.py; off for bench/run.py) the sink also keeps
the event ids of every tag: its stats then say how many distinct events arrived (``unique_events``)
and how many arrivals repeated an id already seen (``repeated_events``).

Control (GET): ``/_stats/<tag>`` (JSON counters, monotonic arrival times comparable with
``time.monotonic()`` of other processes on this machine), ``/_stats`` (all tags), ``/_times/<tag>``
(the monotonic arrival time of each of its requests), ``/_sample/<tag>`` (the first event payload of
that tag, decompressed), ``/_mode/<tag>/<mode>`` (from now on, answer that tag's requests as
``<mode>`` whatever their path says: a client keeps its DSN, the server it meets changes),
``/_health``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import itertools
import json
import signal
import sys
import threading
import time
import zlib
from typing import Any, Dict, List, Optional, Set, Tuple

RATE_LIMIT_HEADERS = b"X-Sentry-Rate-Limits: 60:error:organization\r\nRetry-After: 60\r\n"
# The modes that answer an error at once: status, body, extra headers.
ERROR_MODES: Dict[str, Tuple[int, bytes, bytes]] = {
    "r429": (429, b'{"detail":"rate limited"}', RATE_LIMIT_HEADERS),
    "r500": (500, b'{"detail":"internal error"}', b""),
}
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class TagStats:
    """Counters of one tag (one benchmark run)."""

    __slots__ = (
        "requests",
        "events",
        "items",
        "discarded",
        "statuses",
        "endpoints",
        "encodings",
        "wire_bytes",
        "raw_bytes",
        "first_request",
        "first_event",
        "last_event",
        "undecoded",
        "sample",
        "connections",
        "request_times",
        "ids",
        "repeated",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.events = 0
        self.items: Dict[str, int] = {}
        self.discarded: Dict[str, int] = {}
        self.statuses: Dict[str, int] = {}
        self.endpoints: Dict[str, int] = {}
        self.encodings: Dict[str, int] = {}
        self.wire_bytes = 0
        self.raw_bytes = 0
        self.first_request: Optional[float] = None
        self.first_event: Optional[float] = None
        self.last_event: Optional[float] = None
        self.undecoded = 0
        self.sample: Optional[bytes] = None
        self.connections: Set[int] = set()
        self.request_times = array.array("d")  # monotonic arrival time of each request
        self.ids: Optional[Set[str]] = set() if TRACK_IDS else None  # event ids seen (--track-ids)
        self.repeated = 0

    def as_dict(self) -> Dict[str, Any]:
        out = {
            "requests": self.requests,
            "events": self.events,
            "items": self.items,
            "discarded": self.discarded,
            "statuses": self.statuses,
            "endpoints": self.endpoints,
            "encodings": self.encodings,
            "wire_bytes": self.wire_bytes,
            "raw_bytes": self.raw_bytes,
            "first_request": self.first_request,
            "first_event": self.first_event,
            "last_event": self.last_event,
            "undecoded": self.undecoded,
            "connections": len(self.connections),
        }
        if self.ids is not None:
            out["unique_events"] = len(self.ids)
            out["repeated_events"] = self.repeated
        return out


STATS: Dict[str, TagStats] = {}
CONNECTION_IDS = itertools.count(1)
MODE_OVERRIDES: Dict[str, str] = {}  # tag -> the mode its requests get (/_mode/<tag>/<mode>)
TRACK_IDS = False  # --track-ids


def decode_body(body: bytes, encoding: str) -> Optional[bytes]:
    if not encoding or encoding == "identity":
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 47)  # gzip or zlib header
        if encoding == "deflate":
            try:
                return zlib.decompress(body)  # what raven 6.10 sends (zlib stream)
            except zlib.error:
                return zlib.decompress(body, -15)  # raw deflate, as the spec says
    except zlib.error:
        return None
    return None


def envelope_items(raw: bytes) -> List[Tuple[str, bytes]]:
    """(type, payload) of every item of an envelope; tolerant of a missing ``length``."""
    out: List[Tuple[str, bytes]] = []
    pos = raw.find(b"\n")
    if pos < 0:
        return out
    pos += 1
    size = len(raw)
    while pos < size:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            nl = size
        line = raw[pos:nl]
        pos = nl + 1
        if not line.strip():
            continue
        header = json.loads(line)
        length = header.get("length")
        if length is None:
            end = raw.find(b"\n", pos)
            end = size if end < 0 else end
            payload = raw[pos:end]
            pos = end + 1
        else:
            payload = raw[pos : pos + int(length)]
            pos += int(length)
            if raw[pos : pos + 1] == b"\n":
                pos += 1
        out.append((str(header.get("type")), payload))
    return out


def account(tag: str, endpoint: str, headers: Dict[str, str], body: bytes, status: int, conn: int) -> None:
    st = STATS.get(tag)
    if st is None:
        st = STATS[tag] = TagStats()
    now = time.monotonic()
    st.requests += 1
    st.request_times.append(now)
    st.connections.add(conn)
    if st.first_request is None:
        st.first_request = now
    st.statuses[str(status)] = st.statuses.get(str(status), 0) + 1
    st.endpoints[endpoint] = st.endpoints.get(endpoint, 0) + 1
    encoding = headers.get("content-encoding", "").strip().lower()
    st.encodings[encoding or "identity"] = st.encodings.get(encoding or "identity", 0) + 1
    st.wire_bytes += len(body)
    raw = decode_body(body, encoding)
    events = 0
    event_payload: Optional[bytes] = None
    event_id: Optional[str] = None
    if raw is None:
        st.undecoded += 1
        events = 1
    elif endpoint == "store":
        st.raw_bytes += len(raw)
        events = 1
        event_payload = raw
        if st.ids is not None:
            event_id = json_field(raw, "event_id")
    else:
        st.raw_bytes += len(raw)
        try:
            items = envelope_items(raw)
        except (ValueError, TypeError):
            st.undecoded += 1
            items = [("event", b"")]
        for kind, payload in items:
            st.items[kind] = st.items.get(kind, 0) + 1
            if kind == "event":
                events += 1
                event_payload = payload
                if st.ids is not None:
                    event_id = json_field(raw[: raw.find(b"\n")], "event_id") or json_field(
                        payload, "event_id"
                    )
            elif kind == "client_report":
                try:
                    for entry in json.loads(payload).get("discarded_events") or []:
                        key = "{}:{}".format(entry.get("reason"), entry.get("category"))
                        st.discarded[key] = st.discarded.get(key, 0) + int(entry.get("quantity") or 0)
                except (ValueError, TypeError, AttributeError):
                    st.undecoded += 1
    if events and st.ids is not None:
        if event_id is None or event_id in st.ids:
            st.repeated += 1  # an id seen before (or none: it cannot be told apart)
        else:
            st.ids.add(event_id)
    if events:
        st.events += events
        if st.first_event is None:
            st.first_event = now
        st.last_event = now
        if st.sample is None and event_payload is not None:
            st.sample = event_payload[: 1024 * 1024]


def json_field(data: bytes, name: str) -> Optional[str]:
    """``data``'s top-level string field ``name`` (a JSON object), or None."""
    try:
        value = json.loads(data).get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def control(path: str) -> Tuple[int, bytes]:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == "_health":
        return 200, b'{"ok":true}'
    if parts[0] == "_stats":
        if len(parts) > 1:
            st = STATS.get(parts[1]) or TagStats()
            return 200, json.dumps(st.as_dict()).encode()
        return 200, json.dumps({tag: st.as_dict() for tag, st in STATS.items()}).encode()
    if parts[0] == "_times" and len(parts) > 1:
        st = STATS.get(parts[1]) or TagStats()
        return 200, json.dumps(st.request_times.tolist()).encode()
    if parts[0] == "_mode" and len(parts) > 2:
        MODE_OVERRIDES[parts[1]] = parts[2]
        return 200, json.dumps({"tag": parts[1], "mode": parts[2]}).encode()
    if parts[0] == "_sample" and len(parts) > 1:
        found = STATS.get(parts[1])
        if found is not None and found.sample is not None:
            return 200, found.sample
    return 404, b'{"error":"not found"}'


REASONS = {
    200: b"OK",
    404: b"Not Found",
    400: b"Bad Request",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
}


def response(status: int, body: bytes, extra: bytes = b"", close: bool = False) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        status,
        REASONS.get(status, b"Unknown"),
        len(body),
    )
    if close:
        head += b"Connection: close\r\n"
    return head + extra + b"\r\n" + body


class SinkProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time per connection (clients do not pipeline)."""

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.buf = bytearray()
        self.waiting = False  # a delayed (or never-coming) answer is pending
        self.hung = False
        self.closed = False
        self.cid = next(CONNECTION_IDS)  # id() would be reused by later connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        if self.hung:
            return  # never answering: read and drop whatever else comes
        self.buf += data
        self.process()

    def process(self) -> None:
        while not self.waiting and not self.closed:
            req = self.parse()
            if req is None:
                return
            self.handle(*req)

    def parse(self) -> Optional[Tuple[str, str, str, Dict[str, str], bytes]]:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self.fail()
            return None
        try:
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers: Dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        except ValueError:
            self.fail()
            return None
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunked = self.dechunk(start)
            if chunked is None:
                return None
            body, consumed = chunked
        else:
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.fail()
                return None
            if len(buf) < start + length:
                if headers.get("expect", "").lower() == "100-continue" and self.transport:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    headers.pop("expect")
                return None
            body = bytes(buf[start : start + length])
            consumed = start + length
        del buf[:consumed]
        return method, target, version, headers, body

    def dechunk(self, pos: int) -> Optional[Tuple[bytes, int]]:
        buf, parts = self.buf, []  # type: bytearray, List[bytes]
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(bytes(buf[pos:nl]).split(b";")[0] or b"0", 16)
            pos = nl + 2
            if size == 0:
                end = buf.find(b"\r\n", pos)  # no trailers expected
                return (b"".join(parts), end + 2) if end >= 0 else None
            if len(buf) < pos + size + 2:
                return None
            parts.append(bytes(buf[pos : pos + size]))
            pos += size + 2

    def fail(self) -> None:
        if self.transport is not None:
            self.transport.write(response(400, b'{"error":"bad request"}', close=True))
            self.transport.close()
        self.closed = True

    def handle(self, method: str, target: str, version: str, headers: Dict[str, str], body: bytes) -> None:
        close = headers.get("connection", "").lower() == "close" or (
            version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive"
        )
        path = target.split("?", 1)[0]
        if path.startswith("/_"):
            status, payload = control(path)
            self.send(response(status, payload, close=close), close)
            return
        parts = path.strip("/").split("/")
        # /<mode>/<tag>/api/<project>/<endpoint>
        if method != "POST" or len(parts) < 5 or parts[-3] != "api":
            self.send(response(404, b'{"error":"unknown path"}', close=close), close)
            return
        mode, tag, endpoint = parts[0], parts[1], parts[-1]
        mode = MODE_OVERRIDES.get(tag, mode)
        if mode == "hang":
            account(tag, endpoint, headers, body, 0, self.cid)
            self.waiting = self.hung = True
            self.buf.clear()
            return
        error = ERROR_MODES.get(mode)
        if error is not None:
            status, payload, extra = error
            account(tag, endpoint, headers, body, status, self.cid)
            self.send(response(status, payload, extra, close), close)
            return
        account(tag, endpoint, headers, body, 200, self.cid)
        reply = response(200, b'{"id":"00000000000000000000000000000000"}', close=close)
        if mode.startswith("delay"):
            delay = int(mode[5:] or "0") / 1000.0
            self.waiting = True
            asyncio.get_running_loop().call_later(delay, self.delayed, reply, close)
            return
        self.send(reply, close)

    def delayed(self, reply: bytes, close: bool) -> None:
        self.waiting = False
        if self.closed:
            return
        self.send(reply, close)
        self.process()

    def send(self, data: bytes, close: bool) -> None:
        if self.transport is None or self.closed:
            return
        self.transport.write(data)
        if close:
            self.transport.close()
            self.closed = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--track-ids", action="store_true", help="count distinct event ids per tag")
    args = ap.parse_args()
    global TRACK_IDS
    TRACK_IDS = args.track_ids

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = loop.create_future()

    def request_stop(*_: Any) -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)

    def watch_stdin() -> None:  # the driver holds our stdin: EOF means it is gone
        try:
            sys.stdin.buffer.read()
        finally:
            loop.call_soon_threadsafe(request_stop)

    server = loop.run_until_complete(
        loop.create_server(SinkProtocol, "127.0.0.1", args.port, backlog=1024, reuse_address=True)
    )
    if args.exit_on_stdin_eof:
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    try:
        loop.run_until_complete(stop)
    finally:
        server.close()  # no wait_closed(): it would wait for the connections of the "hang" mode
        loop.close()


if __name__ == "__main__":
    main()
