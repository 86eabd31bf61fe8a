"""The rules of the durable spool, without I/O: file names, the file format, bounds, when to feed.

The spool (``raven._runtime.spool``) keeps one file per event in a directory that several
processes may share. What is decided here:

* **Names.** ``<capture time, ns>_<dsn tag>_<owner>_<event id>_<size>.envelope``: sorted by name
  is oldest first; the DSN tag keeps clients of different projects apart in one directory; the
  owner is the token of the process that wrote it (while that process lives, no other one sends
  its files); the size lets the byte bound be kept without a ``stat`` per file. Age is taken from
  the capture time in the name (the writer's wall clock), never from the file's mtime: copying or
  touching a file does not make it young, and a clock that jumps back makes files look younger,
  never older (nothing is deleted early because of it).
* **Format.** A Sentry envelope with one event item and no ``sent_at`` (Sentry's offline-caching
  rule: it is added when the envelope is sent), readable by ``sentry-cli send-envelope``.
* **Bounds.** :func:`evictions`: files past ``max_age`` go, then the oldest until the directory is
  within ``max_files`` and ``max_bytes`` with the new file (counted ``cache_overflow``).
* **Feeding.** :func:`feed_delay`: nothing is read while the server cannot be reached (the core's
  pause, with up to 25 % jitter so that processes sharing a directory do not knock in step) or
  while a rate limit covers errors; :func:`feed_room`: a few events per connection the core allows,
  so a backlog goes out over one connection until the server answers 2xx, and never floods one
  that answers 429.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Optional

from raven._delivery.envelope import parse_envelope

#: The suffix of a spool file.
SUFFIX = ".envelope"
#: Events in memory per connection the core allows, when feeding from the spool.
FEED_PER_CONNECTION = 4
#: The largest share of a pause added as jitter.
JITTER = 0.25

_NOT_IN_NAMES = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class SpoolLimits:
    """The spool's bounds (whichever is reached first) and whether files are fsynced."""

    max_bytes: int = 64 * 1024 * 1024
    max_files: int = 100_000
    max_age: float = 7 * 24 * 3600.0
    fsync: bool = False


@dataclass(frozen=True, order=True)
class SpoolName:
    """What a spool file's name says about it. Ordered oldest first."""

    captured_ns: int
    dsn_tag: str
    owner: str
    event_id: str
    size: int

    @cached_property
    def name(self) -> str:
        return f"{self.captured_ns:019d}_{self.dsn_tag}_{self.owner}_{self.event_id}_{self.size}{SUFFIX}"

    def age(self, wall: float) -> float:
        """Seconds since capture by ``wall`` (negative if the clock went back)."""
        return wall - self.captured_ns / 1e9


def dsn_tag(public_dsn: str) -> str:
    """A short tag of the DSN (without its secret) for file names."""
    return hashlib.sha1(public_dsn.encode("utf-8")).hexdigest()[:8]


def name_id(event_id: str) -> str:
    """The event id as a file name holds it: letters and digits only, at most 64."""
    return _NOT_IN_NAMES.sub("", event_id)[:64] or "0"


def spool_name(wall: float, tag: str, owner: str, event_id: str, size: int) -> SpoolName:
    """The name of the file of event ``event_id`` captured at ``wall``, ``size`` bytes long."""
    return SpoolName(int(wall * 1e9), tag, owner, name_id(event_id), size)


def parse_name(name: str) -> Optional[SpoolName]:
    """The :class:`SpoolName` of a file name, or None if it is not one of ours."""
    if not name.endswith(SUFFIX):
        return None
    parts = name[: -len(SUFFIX)].split("_")
    if len(parts) != 5:
        return None
    captured, tag, owner, event_id, size = parts
    if not (
        captured.isdigit() and size.isdigit() and tag.isalnum() and owner.isalnum() and event_id.isalnum()
    ):
        return None
    return SpoolName(int(captured), tag, owner, event_id, int(size))


def read_envelope(data: bytes, name: Optional[SpoolName] = None) -> tuple[str, bytes]:
    """``(event_id, event payload)`` of a spool file; ``ValueError`` if it is not a whole one, or
    not the event its ``name`` says."""
    try:
        header, items = parse_envelope(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not an envelope: {exc}") from None
    event_id = header.get("event_id") if isinstance(header, dict) else None
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("no event_id in the envelope header")
    if name is not None and name_id(event_id) != name.event_id:
        raise ValueError(f"its event_id {event_id} is not the one its name says")
    events = [payload for item, payload in items if item.get("type") == "event"]
    if len(events) != 1 or len(items) != 1:
        raise ValueError(f"expected one event item, found {len(items)} item(s)")
    try:
        json.loads(events[0])
    except ValueError:
        raise ValueError("the event item is not JSON (truncated?)") from None
    return event_id, events[0]


def evictions(
    oldest_first: Iterable[SpoolName],
    files: int,
    size: int,
    incoming: int,
    limits: SpoolLimits,
    wall: float,
) -> list[SpoolName]:
    """Which of ``oldest_first`` (the files this process may delete, oldest first) go so that the
    directory (``files`` files of ``size`` bytes in all) takes a new file of ``incoming`` bytes:
    every file past ``max_age``, then the oldest while a bound would be passed."""
    gone: list[SpoolName] = []
    for candidate in oldest_first:
        expired = candidate.age(wall) > limits.max_age
        over = files + 1 > limits.max_files or size + incoming > limits.max_bytes
        if not (expired or over):
            break
        gone.append(candidate)
        files -= 1
        size -= candidate.size
    return gone


def expired(names: Sequence[SpoolName], limits: SpoolLimits, wall: float) -> list[SpoolName]:
    """The files of ``names`` past ``max_age``."""
    return [name for name in names if name.age(wall) > limits.max_age]


def feed_delay(hold: float, limited_for: float, jitter: float) -> float:
    """Seconds before the spool may hand the next file to delivery (0: now). ``hold``: the core's
    pause after the server could not be reached; ``limited_for``: the rate limit left on errors;
    ``jitter``: a random number in [0, 1)."""
    if limited_for > 0:
        return limited_for + JITTER * min(limited_for, 1.0) * jitter
    if hold > 0:
        return hold * (1.0 + JITTER * jitter)
    return 0.0


def feed_room(in_memory: int, width: int) -> int:
    """How many more spooled events may be handed to delivery now."""
    return max(0, FEED_PER_CONNECTION * max(1, width) - in_memory)
