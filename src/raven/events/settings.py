"""Limits that shape every event, built once per Client."""

from __future__ import annotations

from dataclasses import dataclass

# raven 6.10's defaults (raven.conf.defaults.MAX_LENGTH_STRING / MAX_LENGTH_LIST).
MAX_LENGTH_STRING = 400
MAX_LENGTH_LIST = 50

# Sentry refuses event items above 1 MiB uncompressed; keep a little headroom for the envelope.
MAX_EVENT_BYTES = 1_000_000
# Some servers refuse store (legacy endpoint) bodies above 200 KiB.
MAX_STORE_BYTES = 200 * 1024

# Exception values and log messages matter more than locals: allow them to be longer.
MAX_EXCEPTION_VALUE_LENGTH = 8192
MAX_MESSAGE_LENGTH = 8192

# Exceptions kept per chain (the raised one and its newest causes).
MAX_CHAINED_EXCEPTIONS = 25


@dataclass(frozen=True)
class EventSettings:
    """How much of the application's state goes into an event.

    Every limit bounds both the work done on the caller's thread and the event size:
    strings are cut to ``string_max_length``, containers keep ``list_max_length`` items,
    nesting stops at ``max_depth``, and each value tree (an ``extra`` value, a frame's locals)
    spends at most ``max_value_size`` / ``max_frame_vars_size`` characters.
    """

    string_max_length: int = MAX_LENGTH_STRING
    list_max_length: int = MAX_LENGTH_LIST
    capture_locals: bool = True
    # Module prefixes (plain ``str.startswith``, as raven 6.10) that are / are not in_app.
    include_paths: frozenset[str] = frozenset()
    exclude_paths: frozenset[str] = frozenset()
    # Container nesting kept below a root value (raven 6.10's serializer used 6).
    max_depth: int = 6
    # Frames kept per stacktrace; the middle of a deeper stack is dropped.
    max_frames: int = 250
    # Locals are captured for this many innermost frames of each stacktrace.
    max_frames_with_vars: int = 50
    # Approximate characters spent on one value tree / on one frame's locals.
    max_value_size: int = 64 * 1024
    max_frame_vars_size: int = 4096
    # Source lines around the current line (raven 6.10: 5).
    context_lines: int = 5


DEFAULT_SETTINGS = EventSettings()
