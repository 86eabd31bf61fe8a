"""Server-imposed rate limits: header parsing and the per-category deadlines. No I/O, no clock.

Two headers say "stop sending for a while":

- ``X-Sentry-Rate-Limits`` (read on every response, 200 included):
  ``retry_after:categories:scope[:reason[:namespaces]]``, comma-separated. ``retry_after`` is
  seconds (a float is allowed), ``categories`` is ``;``-separated and empty means all categories.
  Unknown categories are ignored; a limit whose categories are all unknown is ignored; a
  malformed entry is skipped. Only the first two fields matter to us; ``scope``, ``reason`` and
  ``namespaces`` are accepted and ignored, and may be missing (as Sentry's own SDKs tolerate).
- ``Retry-After`` (only with a 429 whose ``X-Sentry-Rate-Limits`` does not cover what was sent):
  delta-seconds or an HTTP date, a limit on all categories; 60 s when neither header is usable.

Deadlines are on the caller's monotonic clock (``now``). An HTTP date is turned into a delay with
the caller's Unix time (``wall``), then put on the monotonic clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Optional

#: Every data category Sentry defines. "default" is reserved by Sentry and never sent by SDKs: a
#: limit on "default" alone does not stop our events, whose category is "error".
KNOWN_CATEGORIES: frozenset[str] = frozenset(
    {
        "default",
        "error",
        "transaction",
        "security",
        "attachment",
        "session",
        "internal",
        "profile",
        "profile_chunk",
        "replay",
        "monitor",
        "span",
        "feedback",
        "log_item",
        "log_byte",
        "metric_bucket",
        "statsd",
        "user_report_v2",
        "trace_metric",
    }
)

#: Longest limit we honour, in seconds. Sentry's own quota windows reach a month, but one day is
#: plenty: once it expires we send one event, the server answers with a fresh limit, and we stop
#: again. What the cap buys: a broken proxy or a typo (``1e12``) cannot silence error reporting
#: for the life of the process, and deadlines stay ordinary finite floats.
MAX_DELAY = 86400.0
#: Delay after a 429 that carries no usable header.
DEFAULT_429_DELAY = 60.0
#: Key of the limit that covers every category.
ALL = None

RATE_LIMITS_HEADER = "x-sentry-rate-limits"
RETRY_AFTER_HEADER = "retry-after"


def _delay(text: str) -> Optional[float]:
    """Seconds from a header field, or None unless it is a number >= 0. Capped (inf included)."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    if value != value or value < 0:  # NaN, negative
        return None
    return min(value, MAX_DELAY)


def parse_rate_limits(value: object) -> dict[Optional[str], float]:
    """``X-Sentry-Rate-Limits`` -> ``{category or ALL: seconds}``; never raises.

    Where two limits cover a category the longer one wins. A limit naming known and unknown
    categories applies to the known ones; one naming only unknown categories is dropped.
    """
    limits: dict[Optional[str], float] = {}
    if not isinstance(value, str):
        return limits
    for entry in value.split(","):
        fields = entry.split(":")
        if len(fields) < 2:
            continue
        seconds = _delay(fields[0].strip())
        if seconds is None:
            continue
        names = [name.strip() for name in fields[1].split(";")]
        names = [name for name in names if name]
        if not names:
            targets: list[Optional[str]] = [ALL]
        else:
            targets = [name for name in names if name in KNOWN_CATEGORIES]
        for target in targets:
            if seconds > limits.get(target, -1.0):
                limits[target] = seconds
    return limits


def parse_retry_after(value: object, wall: float) -> Optional[float]:
    """``Retry-After`` -> seconds (from delta-seconds or an HTTP date), or None if unusable.

    A date in the past gives 0. Capped at :data:`MAX_DELAY`. Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    seconds = _delay(text)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # pre-3.10 returns None; naive = not an HTTP date
        return None
    try:
        delta = when.timestamp() - wall
    except (OverflowError, ValueError, OSError):
        return None
    if not math.isfinite(delta):
        return None
    return min(max(delta, 0.0), MAX_DELAY)


class RateLimits:
    """Per-category deadlines on the monotonic clock.

    Thread use: updates come from several worker threads. Each write is one dict item
    assignment and each read one ``dict.get`` (atomic under the GIL); "keep the later deadline"
    is a read then a write, so two responses racing may keep the shorter of two limits at worst,
    which the next response repairs. No locks (this package imports no threading).
    """

    def __init__(self) -> None:
        self._until: dict[Optional[str], float] = {}
        self._length: dict[Optional[str], float] = {}  # the seconds the server asked for

    def limit(self, category: Optional[str], seconds: float, now: float) -> None:
        """Stop ``category`` (``ALL`` = every category) for ``seconds`` from ``now``, unless
        already stopped for longer."""
        deadline = now + seconds
        if deadline > self._until.get(category, -math.inf):
            self._until[category] = deadline
            self._length[category] = seconds

    def update(
        self,
        status: int,
        headers: Mapping[str, str],
        now: float,
        wall: float,
        category: Optional[str] = None,
    ) -> None:
        """Apply the limits a response carries. ``headers`` keys are lowercase.

        ``category`` is that of what was sent. On a 429 whose ``X-Sentry-Rate-Limits`` does not
        stop ``category`` (or is absent), ``Retry-After`` (or 60 s) stops every category:
        a 429 must never be answered by sending again at once.
        """
        for target, seconds in parse_rate_limits(headers.get(RATE_LIMITS_HEADER)).items():
            self.limit(target, seconds, now)
        if status == 429 and not self.is_limited(category, now):
            retry_after = parse_retry_after(headers.get(RETRY_AFTER_HEADER), wall)
            # A zero (or past) Retry-After would leave us hammering a server that said 429.
            self.limit(ALL, retry_after if retry_after else DEFAULT_429_DELAY, now)

    def is_limited(self, category: Optional[str], now: float) -> bool:
        """True while ``category`` (or every category) is stopped at ``now``."""
        until = self._until
        return now < until.get(ALL, -math.inf) or (
            category is not None and now < until.get(category, -math.inf)
        )

    def until(self, category: Optional[str]) -> Optional[float]:
        """The monotonic deadline that stops ``category`` (its own or the all-categories one),
        or None if it was never limited. May be in the past."""
        until = self._until
        deadlines = [
            d
            for d in (until.get(ALL), until.get(category) if category is not None else None)
            if d is not None
        ]
        return max(deadlines) if deadlines else None

    def length(self, category: Optional[str]) -> float:
        """The seconds the server asked for in the limit that decides ``until(category)``."""
        until = self._until
        own = until.get(category, -math.inf) if category is not None else -math.inf
        key = category if own >= until.get(ALL, -math.inf) else ALL
        return self._length.get(key, 0.0)

    def snapshot(self) -> dict[str, float]:
        """``{category or "all": monotonic deadline}`` for stats; a copy, safe to iterate."""
        return {("all" if key is None else key): value for key, value in dict(self._until).items()}
