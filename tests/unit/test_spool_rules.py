"""The durable spool's rules (``raven._delivery.spool``) and what the delivery core does with an
event that has a spool file (``Kept``, ``lose``, ``lost_at_close``). No I/O, no clock."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import Dsn, TransportOptions
from raven._delivery.model import Dropped, EventItem, Failure, FailureKind, Kept, Reason, Reply, Sent
from raven._delivery.spool import (
    FEED_PER_CONNECTION,
    SpoolLimits,
    SpoolName,
    dsn_tag,
    evictions,
    expired,
    feed_delay,
    feed_room,
    parse_name,
    read_envelope,
    spool_name,
)
from raven.exceptions import InvalidDsn

DSN = Dsn.parse("http://public@127.0.0.1:9/1")


def _core(spool: bool = True) -> tuple[DeliveryCore, Any]:
    core = DeliveryCore(DSN, TransportOptions(spool_dir="/nowhere"), "raven-ng/test")
    calls: dict[str, list[Any]] = {"done": [], "kept": []}

    class _Hooks:
        def done(self, item: EventItem) -> None:
            calls["done"].append(item.event_id)

        def kept(self, item: EventItem, reason: Reason) -> None:
            calls["kept"].append((item.event_id, reason))

        def holds(self, item: EventItem) -> bool:
            return True

    if spool:
        core.spool = _Hooks()
    return core, calls


def _item(event_id: str = "a" * 32, spooled: bool = True) -> EventItem:
    return EventItem(event_id, b'{"event_id":"%s"}' % event_id.encode(), spool_key="k1" if spooled else None)


# -- names


def test_names_sort_oldest_first_and_read_back() -> None:
    older = spool_name(1_700_000_000.25, "abcd1234", "0a1b2c", "f" * 32, 512)
    newer = spool_name(1_700_000_001.0, "abcd1234", "ffffff", "0" * 32, 10)
    assert older.name < newer.name
    assert parse_name(older.name) == older
    assert sorted([newer, older]) == [older, newer]
    assert older.age(1_700_000_010.25) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        "1_2_3_4.envelope",
        "12_tag_owner_id_notanumber.envelope",
        "12_t-g_owner_id_5.envelope",
        "../12_tag_owner_id_5.envelope",
        "12_tag_owner_id_5.envelope.tmp",
    ],
)
def test_names_that_are_not_spool_files(name: str) -> None:
    assert parse_name(name) is None


def test_dsn_tag_ignores_nothing_but_is_short_and_stable() -> None:
    assert dsn_tag("http://a@h/1") == dsn_tag("http://a@h/1")
    assert dsn_tag("http://a@h/1") != dsn_tag("http://a@h/2")
    assert len(dsn_tag("http://a@h/1")) == 8


# -- the file format


def test_spooled_envelope_has_no_sent_at_and_reads_back() -> None:
    core, _ = _core()
    item = _item()
    data = core.spooled_envelope(item)
    assert b"sent_at" not in data
    assert read_envelope(data) == (item.event_id, item.payload)


def test_a_file_must_hold_the_event_its_name_says() -> None:
    core, _ = _core()
    dashed = "0f" * 4 + "-" + "1" * 27  # ids from elsewhere may carry what a name cannot
    data = core.spooled_envelope(_item(dashed))
    named = spool_name(1_700_000_000.0, "tag", "own", dashed, len(data))
    assert named.event_id == "0f" * 4 + "1" * 27 and parse_name(named.name) == named
    assert read_envelope(data, named) == (dashed, _item(dashed).payload)
    with pytest.raises(ValueError, match="not the one its name says"):
        read_envelope(data, spool_name(1_700_000_000.0, "tag", "own", "b" * 32, len(data)))


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: b"", "empty"),
        (lambda d: b"hello\n", "not JSON"),
        (lambda d: d.replace(b'"event_id":"' + b"a" * 32 + b'"', b'"x":1', 1), "no event id"),
        (lambda d: d + b'{"type":"attachment","length":1}\nx\n', "two items"),
    ],
)
def test_a_spool_file_that_is_not_whole_is_refused(mangle: Any, why: str) -> None:
    core, _ = _core()
    with pytest.raises(ValueError):
        read_envelope(mangle(core.spooled_envelope(_item())))


# -- bounds


def _names(count: int, size: int = 100, start: float = 1_000.0) -> list[SpoolName]:
    return [spool_name(start + i, "tag", "own", f"{i:032x}", size) for i in range(count)]


def test_evictions_make_room_oldest_first() -> None:
    limits = SpoolLimits(max_bytes=1000, max_files=10, max_age=1e9)
    files = _names(10)
    assert evictions(files, files=10, size=1000, incoming=100, limits=limits, wall=2_000.0) == files[:1]
    assert evictions(files, files=5, size=500, incoming=100, limits=limits, wall=2_000.0) == []
    # bytes: a 350-byte newcomer needs four of the 100-byte files to go
    assert evictions(files, files=9, size=900, incoming=350, limits=limits, wall=2_000.0) == files[:3]


def test_evictions_take_expired_files_first_whatever_the_room() -> None:
    limits = SpoolLimits(max_age=100.0)
    files = _names(5, start=1_000.0)  # captured at 1000 .. 1004
    assert evictions(files, files=5, size=500, incoming=10, limits=limits, wall=1_102.5) == files[:3]
    assert expired(files, limits, wall=1_102.5) == files[:3]


def test_a_clock_that_went_back_makes_nothing_old() -> None:
    limits = SpoolLimits(max_age=100.0)
    assert expired(_names(3, start=5_000.0), limits, wall=1_000.0) == []


# -- feeding pace


def test_feed_waits_out_the_pause_with_jitter_and_a_rate_limit() -> None:
    assert feed_delay(hold=0.0, limited_for=0.0, jitter=0.9) == 0.0
    assert feed_delay(hold=2.0, limited_for=0.0, jitter=0.0) == 2.0
    assert 2.0 < feed_delay(hold=2.0, limited_for=0.0, jitter=0.99) <= 2.5
    assert feed_delay(hold=0.0, limited_for=60.0, jitter=0.0) == 60.0
    assert feed_delay(hold=0.0, limited_for=60.0, jitter=0.99) <= 60.25


def test_feed_room_is_a_few_events_per_connection() -> None:
    assert feed_room(in_memory=0, width=1) == FEED_PER_CONNECTION
    assert feed_room(in_memory=FEED_PER_CONNECTION, width=1) == 0
    assert feed_room(in_memory=2, width=4) == 4 * FEED_PER_CONNECTION - 2


# -- options


def test_spool_options_are_validated() -> None:
    options = TransportOptions.parse(
        {"spool_dir": "/var/spool/raven", "spool_max_age": "3600", "spool_fsync": "yes"}
    )
    limits = options.spool_limits()
    assert (options.spool_dir, limits.max_age, limits.fsync) == ("/var/spool/raven", 3600.0, True)
    for bad in ({"spool_max_bytes": "10"}, {"spool_max_age": "0"}, {"spool_fsync": "maybe"}):
        with pytest.raises(InvalidDsn):
            TransportOptions.parse(bad)


# -- the core and a spooled event


def _request(core: DeliveryCore, item: EventItem) -> Any:
    return core.build_request(item, now=0.0, wall=1_000.0)


@pytest.mark.parametrize(
    "kind", [FailureKind.CONNECT, FailureKind.TIMEOUT, FailureKind.READ, FailureKind.TLS]
)
def test_no_answer_keeps_a_spooled_event_and_counts_nothing(kind: FailureKind) -> None:
    core, calls = _core()
    item = _item()
    decision = core.settle(_request(core, item), Failure(kind, "x"), 1.0, 1_000.0, can_retry=True)
    assert isinstance(decision, Kept)
    assert calls == {"done": [], "kept": [(item.event_id, Reason.NETWORK_ERROR)]}
    assert core.stats()["lost"] == {}
    assert core.hold(1.0) > 0  # the pause still applies


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "send_error"), (413, "send_error"), (429, "ratelimit_backoff")]
)
def test_a_refusal_deletes_the_file_and_counts(status: int, reason: str) -> None:
    core, calls = _core()
    item = _item()
    decision = core.settle(_request(core, item), Reply(status), 1.0, 1_000.0, can_retry=True)
    assert isinstance(decision, Dropped)
    assert calls["done"] == [item.event_id] and calls["kept"] == []
    assert core.stats()["lost"] == {f"{reason}:error": 1}


def test_sent_deletes_the_file() -> None:
    core, calls = _core()
    item = _item()
    assert isinstance(core.settle(_request(core, item), Reply(200), 1.0, 1_000.0), Sent)
    assert calls == {"done": [item.event_id], "kept": []}


def test_without_a_spool_nothing_changes() -> None:
    core, calls = _core(spool=False)
    item = _item()  # a spool key but no spool: an ordinary event
    decision = core.settle(_request(core, item), Failure(FailureKind.TIMEOUT, "x"), 1.0, 1_000.0)
    assert isinstance(decision, Dropped) and decision.reason is Reason.NETWORK_ERROR
    assert core.stats()["lost"] == {"network_error:error": 1}
    assert not core.parks(item)


def test_lose_keeps_for_outages_and_overflow_and_deletes_otherwise() -> None:
    core, calls = _core()
    assert core.parks(_item())
    assert not core.lose(_item("b" * 32), Reason.QUEUE_OVERFLOW)
    assert not core.lose(_item("c" * 32), Reason.NETWORK_ERROR)
    assert core.lose(_item("d" * 32), Reason.SEND_ERROR)
    assert core.lose(_item("e" * 32), Reason.RATELIMIT_BACKOFF)
    assert [event_id for event_id, _ in calls["kept"]] == ["b" * 32, "c" * 32]
    assert calls["done"] == ["d" * 32, "e" * 32]
    assert core.stats()["lost"] == {"send_error:error": 1, "ratelimit_backoff:error": 1}


def test_take_parked_removes_only_spooled_events_and_keeps_the_order() -> None:
    core, _ = _core()
    report = object()  # a queued client report is never parked
    queue: deque[Any] = deque(
        [
            _item("a" * 32),
            _item("b" * 32, spooled=False),
            report,
            _item("c" * 32),
            _item("d" * 32, spooled=False),
        ]
    )
    parked = core.take_parked(queue)
    assert [item.event_id for item in parked] == ["a" * 32, "c" * 32]
    assert [getattr(entry, "event_id", entry) for entry in queue] == ["b" * 32, report, "d" * 32]
    without, _ = _core(spool=False)
    unspooled: deque[Any] = deque([_item()])
    assert without.take_parked(unspooled) == [] and len(unspooled) == 1


def test_a_close_keeps_spooled_events_for_the_next_start() -> None:
    core, calls = _core()
    assert core.lost_at_close(_item(), now=0.0) is None
    assert core.lost_at_close(_item(spooled=False), now=0.0) is Reason.NETWORK_ERROR
    assert calls["kept"] == [("a" * 32, Reason.NETWORK_ERROR)]
    assert core.stats()["lost"] == {"network_error:error": 1}


def test_a_rate_limit_turns_a_spooled_event_away_for_good() -> None:
    core, calls = _core()
    core.settle(_request(core, _item("f" * 32)), Reply(429, {"retry-after": "60"}), 1.0, 1_000.0)
    assert core.turn_away(_item(), now=2.0) is Reason.RATELIMIT_BACKOFF
    assert calls["done"] == ["f" * 32, "a" * 32]
