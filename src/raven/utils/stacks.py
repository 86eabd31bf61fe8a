"""raven 6.10's frame iterators, for code that builds ``stack=`` arguments or custom handlers."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any, Optional

__all__ = ("iter_stack_frames", "iter_traceback_frames")


def _hidden(frame: FrameType) -> bool:
    try:
        return bool(frame.f_locals.get("__traceback_hide__"))
    except Exception:
        return False


def iter_traceback_frames(tb: Optional[TracebackType]) -> Iterator[tuple[FrameType, Optional[int]]]:
    """``(frame, lineno)`` of a traceback, outermost first, without ``__traceback_hide__`` frames."""
    while tb is not None and hasattr(tb, "tb_frame"):
        if not _hidden(tb.tb_frame):
            yield tb.tb_frame, getattr(tb, "tb_lineno", None)
        tb = tb.tb_next


def iter_stack_frames(frames: Optional[Sequence[Any]] = None) -> Iterator[tuple[FrameType, int]]:
    """``(frame, lineno)`` of the current stack (or of ``inspect.stack()``-like ``frames``), oldest first."""
    if not frames:
        frame: Optional[FrameType] = inspect.currentframe()
        newest_first = []
        frame = frame.f_back if frame is not None else None
        while frame is not None:
            newest_first.append((frame, frame.f_lineno))
            frame = frame.f_back
        pairs = list(reversed(newest_first))
    else:
        pairs = [(f[0], f[2]) for f in reversed(frames)]
    for frame_, lineno in pairs:
        if not _hidden(frame_):
            yield frame_, lineno
