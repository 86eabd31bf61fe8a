"""Rate-limit headers and state: the grammar, the deadlines, the 429 fallbacks. Injected clocks."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raven._delivery.ratelimit import (
    ALL,
    KNOWN_CATEGORIES,
    MAX_DELAY,
    RateLimits,
    parse_rate_limits,
    parse_retry_after,
)

WALL = 1_800_000_000.0  # a fixed Unix time
NOW = 5_000.0  # a fixed monotonic reading


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # the basic form, one category
        ("60:error:organization", {"error": 60.0}),
        # reason and namespaces are accepted and ignored
        ("60:error:organization:quota_exceeded", {"error": 60.0}),
        ("60:metric_bucket:organization:quota_exceeded:custom;spans", {"metric_bucket": 60.0}),
        # scope missing: tolerated, like Sentry's SDKs
        ("60:error", {"error": 60.0}),
        # float seconds
        ("2.5:error:key", {"error": 2.5}),
        ("0.25:error:key", {"error": 0.25}),
        # empty categories = all
        ("60::key", {ALL: 60.0}),
        ("60: :key", {ALL: 60.0}),
        # several categories
        ("86400:transaction;span:organization", {"transaction": 86400.0, "span": 86400.0}),
        # unknown categories are ignored; known ones in the same limit still apply
        ("60:error;bogus:organization", {"error": 60.0}),
        ("60:bogus;nonsense:organization", {}),
        # "default" is a known category of its own; it is not "error"
        ("60:default:organization", {"default": 60.0}),
        # whitespace tolerated around entries, fields and categories
        ("  60 : error ; transaction : organization  ", {"error": 60.0, "transaction": 60.0}),
        (
            "60::key, 86400:transaction;span:organization",
            {ALL: 60.0, "transaction": 86400.0, "span": 86400.0},
        ),
        # two limits covering one category: the longer wins, in either order
        ("10:error:key, 30:error:organization", {"error": 30.0}),
        ("30:error:organization, 10:error:key", {"error": 30.0}),
        ("30:error;transaction:key,90:transaction:key", {"error": 30.0, "transaction": 90.0}),
        ("5::key,50::organization", {ALL: 50.0}),
        # malformed entries are skipped, the rest is used
        ("garbage, 60:error:key", {"error": 60.0}),
        ("60, 30:error:key", {"error": 30.0}),
        ("abc:error:key", {}),
        (":error:key", {}),
        ("-5:error:key", {}),
        ("nan:error:key", {}),
        ("60:error:key,,,", {"error": 60.0}),
        # absurd values are capped
        ("1e12:error:key", {"error": MAX_DELAY}),
        ("inf:error:key", {"error": MAX_DELAY}),
        ("1e999:error:key", {"error": MAX_DELAY}),
        # zero is a valid (and harmless) limit
        ("0:error:key", {"error": 0.0}),
        # nothing at all
        ("", {}),
        (",", {}),
        (":::", {}),
    ],
)
def test_parse_rate_limits(header: str, expected: dict) -> None:
    assert parse_rate_limits(header) == expected


@pytest.mark.parametrize("value", [None, b"60:error:key", 60, object()])
def test_parse_rate_limits_of_non_strings_is_empty(value: object) -> None:
    assert parse_rate_limits(value) == {}


def test_every_known_category_is_accepted() -> None:
    header = "60:" + ";".join(sorted(KNOWN_CATEGORIES)) + ":organization"
    assert set(parse_rate_limits(header)) == set(KNOWN_CATEGORIES)
    assert {"error", "default", "internal", "trace_metric", "user_report_v2"} <= KNOWN_CATEGORIES


def _http_date(unix: float) -> str:
    return format_datetime(datetime.fromtimestamp(unix, timezone.utc), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        (_http_date(WALL + 90), 90.0),
        (_http_date(WALL - 90), 0.0),  # in the past
        (_http_date(WALL + 10 * 86400), MAX_DELAY),  # capped
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("1e12", MAX_DELAY),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("Wed, 99 Foo 2015 99:99:99 GMT", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP date
        (None, None),
        (b"120", None),
    ],
)
def test_parse_retry_after(value: object, expected: object) -> None:
    assert parse_retry_after(value, WALL) == expected


# --- the state ---------------------------------------------------------------------------------


def test_real_server_header_on_200_does_not_stop_errors() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "86400:transaction;span:organization"}, NOW, WALL, "error")
    assert not limits.is_limited("error", NOW)
    assert not limits.is_limited("error", NOW + 1000)
    assert limits.is_limited("transaction", NOW + 86399)
    assert limits.is_limited("span", NOW)
    assert not limits.is_limited("transaction", NOW + 86400)


def test_error_limit_lasts_exactly_its_seconds() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "60:error:organization"}, NOW, WALL, "error")
    assert limits.is_limited("error", NOW)
    assert limits.is_limited("error", NOW + 59.999)
    assert not limits.is_limited("error", NOW + 60.0)
    assert not limits.is_limited("error", NOW + 60.001)
    assert not limits.is_limited("transaction", NOW)
    assert limits.until("error") == NOW + 60.0
    assert limits.until("transaction") is None


def test_float_seconds_in_state() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "0.5:error:key"}, NOW, WALL)
    assert limits.is_limited("error", NOW + 0.4)
    assert not limits.is_limited("error", NOW + 0.5)


def test_default_only_limit_does_not_stop_errors() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "600:default:organization"}, NOW, WALL, "error")
    assert not limits.is_limited("error", NOW)
    assert limits.is_limited("default", NOW)


def test_unknown_only_limit_is_ignored_entirely() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "600:bogus:organization"}, NOW, WALL, "error")
    assert not limits.is_limited("error", NOW)
    assert not limits.is_limited("bogus", NOW)
    assert limits.snapshot() == {}


def test_empty_categories_stop_everything() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "30::key"}, NOW, WALL)
    for category in ("error", "internal", "transaction", "anything"):
        assert limits.is_limited(category, NOW + 29)
        assert not limits.is_limited(category, NOW + 30)
    assert limits.until("error") == NOW + 30
    assert limits.snapshot() == {"all": NOW + 30}


def test_keep_the_later_deadline_across_responses() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "100:error:key"}, NOW, WALL)
    limits.update(200, {"x-sentry-rate-limits": "10:error:key"}, NOW + 1, WALL)
    assert limits.until("error") == NOW + 100
    limits.update(200, {"x-sentry-rate-limits": "200:error:key"}, NOW + 2, WALL)
    assert limits.until("error") == NOW + 202


def test_category_and_all_limits_combine() -> None:
    limits = RateLimits()
    limits.update(200, {"x-sentry-rate-limits": "10::key, 100:error:key"}, NOW, WALL)
    assert limits.is_limited("transaction", NOW + 5)
    assert not limits.is_limited("transaction", NOW + 10)
    assert limits.is_limited("error", NOW + 50)
    assert limits.until("error") == NOW + 100
    assert limits.until("transaction") == NOW + 10


def test_200_without_headers_changes_nothing() -> None:
    limits = RateLimits()
    limits.update(200, {}, NOW, WALL, "error")
    limits.update(200, {"retry-after": "60"}, NOW, WALL, "error")  # only meaningful with a 429
    assert not limits.is_limited("error", NOW)
    assert limits.snapshot() == {}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, 60.0),  # bare 429
        ({"retry-after": "120"}, 120.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": _http_date(WALL + 300)}, 300.0),
        ({"retry-after": "garbage"}, 60.0),
        ({"retry-after": "0"}, 60.0),  # zero would mean hammering a server that said 429
        ({"retry-after": _http_date(WALL - 300)}, 60.0),
        ({"retry-after": "1e12"}, MAX_DELAY),
        ({"x-sentry-rate-limits": "garbage"}, 60.0),  # header present but unusable
        ({"x-sentry-rate-limits": "garbage", "retry-after": "30"}, 30.0),
    ],
)
def test_429_without_usable_rate_limits_stops_all_categories(headers: dict, seconds: float) -> None:
    limits = RateLimits()
    limits.update(429, headers, NOW, WALL, "error")
    for category in ("error", "transaction", "internal"):
        assert limits.is_limited(category, NOW + seconds - 0.001)
        assert not limits.is_limited(category, NOW + seconds)


def test_429_with_rate_limits_uses_them_not_retry_after() -> None:
    limits = RateLimits()
    headers = {"x-sentry-rate-limits": "20:error:key", "retry-after": "500"}
    limits.update(429, headers, NOW, WALL, "error")
    assert limits.until("error") == NOW + 20
    assert not limits.is_limited("transaction", NOW)


def test_bugsink_429() -> None:
    limits = RateLimits()
    limits.update(
        429, {"x-sentry-rate-limits": "60::key, 86400:transaction;span:organization"}, NOW, WALL, "error"
    )
    assert limits.is_limited("error", NOW + 59)
    assert not limits.is_limited("error", NOW + 60)
    assert limits.is_limited("transaction", NOW + 86000)


def test_429_whose_rate_limits_miss_the_sent_category_still_backs_off() -> None:
    # The header only repeats the standing transaction limit; the 429 was for our error event.
    limits = RateLimits()
    headers = {"x-sentry-rate-limits": "86400:transaction;span:organization", "retry-after": "45"}
    limits.update(429, headers, NOW, WALL, "error")
    assert limits.is_limited("error", NOW + 44)
    assert not limits.is_limited("error", NOW + 45)


# --- never raises ------------------------------------------------------------------------------

_header_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.lists(
    st.sampled_from(
        ["60", "1.5", "-1", "nan", "inf", "1e400", "", " ", ":", ";", ",", "error", "default", "x", "\x00"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(value=_header_text, retry_after=_header_text, status=st.sampled_from([200, 429, 500]))
def test_parsing_never_raises(value: str, retry_after: str, status: int) -> None:
    parsed = parse_rate_limits(value)
    for key, seconds in parsed.items():
        assert key is ALL or key in KNOWN_CATEGORIES
        assert 0.0 <= seconds <= MAX_DELAY
    delay = parse_retry_after(retry_after, WALL)
    assert delay is None or 0.0 <= delay <= MAX_DELAY
    limits = RateLimits()
    limits.update(status, {"x-sentry-rate-limits": value, "retry-after": retry_after}, NOW, WALL, "error")
    limits.is_limited("error", NOW)
    for deadline in limits.snapshot().values():
        assert NOW <= deadline <= NOW + MAX_DELAY
