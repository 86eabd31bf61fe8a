"""Envelope and store encodings: bodies parse back, lengths are right, headers and URLs are right."""

from __future__ import annotations

import gzip
import json
import re
from typing import Optional

import pytest

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.envelope import Encoder, auth_header, gzip_compress, parse_envelope, rfc3339
from raven._delivery.model import EventItem, Reason
from raven.version import CLIENT_NAME, VERSION

WALL = 1_795_255_200.123456  # 2026-11-21T10:00:00.123456Z
EVENT_ID = "0123456789abcdef0123456789abcdef"


def _event(size: int = 3000) -> bytes:
    event: dict[str, object] = {
        "event_id": EVENT_ID,
        "level": "error",
        "message": 'boom \u00e9\u6f22 \n quoted " and \\',
    }
    event["extra"] = {"pad": "x" * max(0, size - len(json.dumps(event)) - 20)}
    return json.dumps(event, separators=(",", ":")).encode()


def _core(dsn: str = "https://pub:sec@sentry.example.com/prefix/more/42", **options: object) -> DeliveryCore:
    return DeliveryCore(Dsn.parse(dsn), TransportOptions().with_values(**options), CLIENT_NAME)


def test_rfc3339() -> None:
    assert rfc3339(WALL) == "2026-11-21T10:00:00.123456Z"
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000000Z"
    assert rfc3339(1_795_255_200.9999996) == "2026-11-21T10:00:00.999999Z"
    # the per-second cache does not leak across seconds
    assert rfc3339(1_795_255_201.5) == "2026-11-21T10:00:01.500000Z"
    assert rfc3339(1_795_255_200.5) == "2026-11-21T10:00:00.500000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rfc3339(1_234_567_890.1))
    assert rfc3339(-0.5) == "1969-12-31T23:59:59.500000Z"


@pytest.mark.parametrize("wall", [float("nan"), float("inf"), -float("inf"), 1e20, -1e20])
def test_rfc3339_of_a_broken_clock_does_not_raise(wall: float) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rfc3339(wall))


@pytest.mark.parametrize("size", [0, 10, 3000, 200_000, 1_100_000])
def test_gzip_roundtrip(size: int) -> None:
    data = (b"abcdefghij" * (size // 10 + 1))[:size]
    compressed = gzip_compress(data)
    assert compressed[:2] == b"\x1f\x8b"  # gzip magic, not zlib or raw deflate
    assert gzip.decompress(compressed) == data


def test_envelope_request_parses_back() -> None:
    core = _core()
    payload = _event()
    request = core.build_request(EventItem(EVENT_ID, payload), now=1.0, wall=WALL)
    assert request.protocol == "envelope"
    assert request.url == "https://sentry.example.com/prefix/more/api/42/envelope/"
    assert request.report == {}
    raw = gzip.decompress(request.body)
    lines = raw.split(b"\n")
    header = json.loads(lines[0])
    assert header == {
        "event_id": EVENT_ID,
        "sent_at": "2026-11-21T10:00:00.123456Z",
        "dsn": "https://pub@sentry.example.com/prefix/more/42",
        "sdk": {"name": "raven-ng", "version": VERSION},
    }
    assert "sec" not in lines[0].decode()
    item_header = json.loads(lines[1])
    assert item_header == {"type": "event", "length": len(payload), "content_type": "application/json"}
    assert lines[2] == payload
    assert raw == lines[0] + b"\n" + lines[1] + b"\n" + payload + b"\n"
    parsed_header, items = parse_envelope(raw)
    assert parsed_header == header
    assert items == [(item_header, payload)]


def test_envelope_length_is_bytes_not_characters() -> None:
    payload = json.dumps({"message": "\u00e9\u6f22\U0001f600"}, ensure_ascii=False).encode("utf-8")
    request = _core().build_request(EventItem(EVENT_ID, payload), 1.0, WALL)
    _, items = parse_envelope(gzip.decompress(request.body))
    assert items[0][0]["length"] == len(payload) > len(payload.decode("utf-8"))
    assert items[0][1] == payload


def test_odd_event_id_is_escaped() -> None:
    request = _core().build_request(EventItem('we"ird\n id', b"{}"), 1.0, WALL)
    header, _ = parse_envelope(gzip.decompress(request.body))
    assert header["event_id"] == 'we"ird\n id'


def test_percent_in_dsn_path_does_not_break_templates() -> None:
    core = _core("https://pub@sentry.example.com/a%20b/7")
    request = core.build_request(EventItem(EVENT_ID, b'{"x":"100%"}'), 1.0, WALL)
    header, items = parse_envelope(gzip.decompress(request.body))
    assert header["dsn"] == "https://pub@sentry.example.com/a%20b/7"
    assert items[0][1] == b'{"x":"100%"}'
    assert request.url == "https://sentry.example.com/a%20b/api/7/envelope/"


def test_envelope_headers() -> None:
    request = _core().build_request(EventItem(EVENT_ID, _event()), 1.0, WALL)
    assert request.headers == {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": (
            f"Sentry sentry_version=7, sentry_client={CLIENT_NAME}, sentry_key=pub, sentry_secret=sec"
        ),
        "User-Agent": CLIENT_NAME,
    }


def test_headers_are_a_fresh_dict_per_request() -> None:
    core = _core()
    first = core.build_request(EventItem(EVENT_ID, b"{}"), 1.0, WALL)
    first.headers["X-Mutated"] = "1"  # type: ignore[index]  # a dict at runtime
    second = core.build_request(EventItem(EVENT_ID, b"{}"), 1.0, WALL)
    assert "X-Mutated" not in second.headers


@pytest.mark.parametrize(
    ("public", "secret", "expected"),
    [
        ("pub", None, "Sentry sentry_version=7, sentry_client=raven-ng/1.0, sentry_key=pub"),
        ("pub", "", "Sentry sentry_version=7, sentry_client=raven-ng/1.0, sentry_key=pub"),
        (
            "pub",
            "sec",
            "Sentry sentry_version=7, sentry_client=raven-ng/1.0, sentry_key=pub, sentry_secret=sec",
        ),
    ],
)
def test_auth_header(public: str, secret: Optional[str], expected: str) -> None:
    assert auth_header(public, secret, "raven-ng/1.0") == expected


def test_auth_header_without_secret_in_request() -> None:
    request = _core("https://pub@sentry.example.com/42").build_request(EventItem(EVENT_ID, b"{}"), 1.0, WALL)
    assert request.headers["X-Sentry-Auth"].endswith("sentry_key=pub")
    assert "sentry_secret" not in request.headers["X-Sentry-Auth"]


@pytest.mark.parametrize(
    ("dsn", "envelope_url", "store_url"),
    [
        ("https://k@host/1", "https://host/api/1/envelope/", "https://host/api/1/store/"),
        ("http://k@host:9000/1", "http://host:9000/api/1/envelope/", "http://host:9000/api/1/store/"),
        (
            "https://k@host/sentry/prefix/1",
            "https://host/sentry/prefix/api/1/envelope/",
            "https://host/sentry/prefix/api/1/store/",
        ),
        ("threaded+https://k@host/p/1", "https://host/p/api/1/envelope/", "https://host/p/api/1/store/"),
        ("https://k@[::1]:8000/1", "https://[::1]:8000/api/1/envelope/", "https://[::1]:8000/api/1/store/"),
    ],
)
def test_urls_keep_the_path_prefix(dsn: str, envelope_url: str, store_url: str) -> None:
    encoder = Encoder(Dsn.parse(dsn), CLIENT_NAME)
    assert encoder.envelope_url == envelope_url
    assert encoder.store_url == store_url
    assert _core(dsn).build_request(EventItem(EVENT_ID, b"{}"), 1.0, WALL).url == envelope_url
    assert _core(dsn, protocol="store").build_request(EventItem(EVENT_ID, b"{}"), 1.0, WALL).url == store_url


def test_store_request() -> None:
    payload = _event()
    request = _core(protocol="store").build_request(EventItem(EVENT_ID, payload), 1.0, WALL)
    assert request.protocol == "store"
    assert request.url == "https://sentry.example.com/prefix/more/api/42/store/"
    assert gzip.decompress(request.body) == payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["X-Sentry-Auth"].startswith("Sentry sentry_version=7, ")
    assert request.headers["User-Agent"] == CLIENT_NAME


def test_client_report_item_attached() -> None:
    core = _core()
    core.record_lost(Reason.QUEUE_OVERFLOW, "error", 3)
    core.record_lost(Reason.BEFORE_SEND, "error")
    payload = _event()
    request = core.build_request(EventItem(EVENT_ID, payload), 1.0, WALL)
    assert request.report == {("queue_overflow", "error"): 3, ("before_send", "error"): 1}
    _, items = parse_envelope(gzip.decompress(request.body))
    assert [header["type"] for header, _ in items] == ["event", "client_report"]
    report_header, report = items[1]
    assert report_header == {"type": "client_report", "length": len(report)}
    assert json.loads(report) == {
        "timestamp": "2026-11-21T10:00:00.123456Z",
        "discarded_events": [
            {"reason": "before_send", "category": "error", "quantity": 1},
            {"reason": "queue_overflow", "category": "error", "quantity": 3},
        ],
    }


def test_report_only_envelope() -> None:
    core = _core()
    assert core.report_request(1.0, WALL) is None
    core.record_lost(Reason.NETWORK_ERROR, "error", 2)
    request = core.report_request(1.0, WALL, forced=True)
    assert request is not None
    assert request.item is None
    assert request.url.endswith("/api/42/envelope/")
    assert request.headers["Content-Type"] == "application/x-sentry-envelope"
    header, items = parse_envelope(gzip.decompress(request.body))
    assert "event_id" not in header
    assert header["sent_at"] == "2026-11-21T10:00:00.123456Z"
    assert header["dsn"] == "https://pub@sentry.example.com/prefix/more/42"
    assert len(items) == 1
    assert items[0][0]["type"] == "client_report"
    assert json.loads(items[0][1])["discarded_events"] == [
        {"reason": "network_error", "category": "error", "quantity": 2}
    ]
    assert core.report_request(1.0, WALL, forced=True) is None  # taken


def test_parse_envelope_rejects_wrong_lengths() -> None:
    with pytest.raises(ValueError):
        parse_envelope(b'{}\n{"type":"event","length":10}\n{}\n')
    with pytest.raises(ValueError):
        parse_envelope(b'{}\n{"type":"event","length":1}\n{}\n')
