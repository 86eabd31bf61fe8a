"""raven 6.10's stack helpers: frame iterators and ``get_stack_info``, for code that builds
``stack=`` arguments, custom handlers or frames of its own.

``get_stack_info(frames)`` returns raven 6.10's ``{'frames': [...]}``: per frame ``abs_path``,
``filename`` (relative to the module's top package), ``module``, ``function``, ``lineno``, the
source context, and ``vars`` (the locals through ``transformer``, raven 6.10's serializer by
default, within ``max_var_size`` characters); past ``frame_allowance`` frames, the middle frames
lose their locals and context (``slim_frame_data``). Source lines come from :mod:`linecache`
(through the module's loader when the file is not on disk), as the client's own frames do
(:func:`raven.events.stack.source_context`). Frames whose locals set ``__traceback_hide__``
are skipped everywhere here.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any, Callable, Optional

from raven.events.serialize import trim_str
from raven.events.stack import source_context
from raven.utils.serializer import transform

__all__ = (
    "get_frame_locals",
    "get_lines_from_file",
    "get_stack_info",
    "iter_stack_frames",
    "iter_traceback_frames",
    "slim_frame_data",
    "slim_string",
    "to_dict",
    "transform",
)

_HIDE = "__traceback_hide__"
#: Characters of one source line kept (longer lines are cut, ending with '...').
MAX_LINE_LENGTH = 512
_SLIMMED_KEYS = ("vars", "pre_context", "post_context")


def _getitem(mapping: Any, key: str, default: Any = None) -> Any:
    """``mapping[key]``; ``default`` if that fails in any way (``f_locals`` may be any object)."""
    try:
        return mapping[key]
    except Exception:
        return default


def _hidden(frame: Any) -> bool:
    return bool(_getitem(getattr(frame, "f_locals", None), _HIDE))


def iter_traceback_frames(tb: Optional[TracebackType]) -> Iterator[tuple[FrameType, Optional[int]]]:
    """``(frame, lineno)`` of a traceback, outermost first, without ``__traceback_hide__`` frames.

    A traceback-like object without ``tb_frame`` (some Celery versions) ends the walk.
    """
    while tb and hasattr(tb, "tb_frame"):
        if not _hidden(tb.tb_frame):
            yield tb.tb_frame, getattr(tb, "tb_lineno", None)
        tb = tb.tb_next


def iter_stack_frames(frames: Optional[Sequence[Any]] = None) -> Iterator[tuple[FrameType, int]]:
    """``(frame, lineno)`` of ``frames`` (``inspect.stack()``-like records, newest first) or of the
    stack of the code iterating, oldest first, without ``__traceback_hide__`` frames."""
    if frames:
        pairs = [(record[0], record[2]) for record in reversed(frames)]
    else:
        # The generator's own frame is the newest; its caller is the code that iterates.
        newest: Optional[FrameType] = inspect.currentframe()
        newest = newest.f_back if newest is not None else None
        newest_first = []
        while newest is not None:
            newest_first.append((newest, newest.f_lineno))
            newest = newest.f_back
        pairs = newest_first[::-1]
    for frame, lineno in pairs:
        if not _hidden(frame):
            yield frame, lineno


def slim_string(value: Any, length: int = MAX_LINE_LENGTH) -> Any:
    """A string cut to ``length`` characters (ending with '...'); a list cut to ``length`` items."""
    if not value:
        return value
    if isinstance(value, str):
        return trim_str(value, length)
    return value[:length]


def get_lines_from_file(
    filename: str,
    lineno: int,
    context_lines: int,
    loader: Any = None,
    module_name: Optional[str] = None,
) -> tuple[Optional[list[str]], Optional[str], Optional[list[str]]]:
    """``(pre_context, context_line, post_context)`` around 0-based ``lineno`` of ``filename``,
    or ``(None, None, None)`` when the source cannot be read (or has fewer lines)."""
    module_globals = {"__loader__": loader, "__name__": module_name} if loader is not None else None
    found = source_context(filename, lineno + 1, module_globals, context_lines)
    if found is None:
        return None, None, None
    pre, line, post = found
    return list(pre), line, list(post)


def to_dict(dictish: Any) -> dict[Any, Any]:
    """A real dict from a mapping-like object (``keys()`` / ``iterkeys()`` and ``[]``)."""
    keys = getattr(dictish, "iterkeys", None) or getattr(dictish, "keys", None)
    if keys is None:
        raise ValueError(dictish)
    return {key: dictish[key] for key in keys()}


def get_frame_locals(
    frame: Any, transformer: Callable[[Any], Any] = transform, max_var_size: int = 4096
) -> Optional[dict[str, Any]]:
    """The frame's locals through ``transformer``, while their reprs fit in ``max_var_size``
    characters (a local that does not fit is left out); None without locals."""
    f_locals = getattr(frame, "f_locals", None)
    if not f_locals:
        return None
    if not isinstance(f_locals, dict):
        # Some templating engines give frames a mapping-like f_locals that is not a dict.
        try:
            f_locals = to_dict(f_locals)
        except Exception:
            return None
    result: dict[str, Any] = {}
    used = 0
    for name, value in list(f_locals.items()):
        value = transformer(value)
        size = len(repr(value))
        if used + size < max_var_size:
            result[name] = value
            used += size
    return result


def _slim(frames: Sequence[dict[str, Any]]) -> None:
    for frame in frames:
        for key in _SLIMMED_KEYS:
            frame.pop(key, None)


def slim_frame_data(frames: list[dict[str, Any]], frame_allowance: int = 25) -> list[dict[str, Any]]:
    """Beyond ``frame_allowance`` frames, drop the locals and surrounding source of middle frames
    (library frames first, then the application's), keeping every frame. Returns ``frames``."""
    if len(frames) <= frame_allowance:
        return frames
    app = [f for f in frames if f.get("in_app")]
    system = [f for f in frames if not f.get("in_app")]
    excess = len(frames) - frame_allowance
    system_allowance = max(frame_allowance - len(app), 0)
    if system_allowance:
        half = system_allowance // 2
        middle = system[half : len(system) - half]
    else:
        middle = system
    _slim(middle)
    excess -= len(middle)
    if excess > 0:
        half = max(len(app) - excess, 0) // 2
        _slim(app[half : len(app) - half])
    return frames


def _top_package_dir(module: Optional[str]) -> Optional[str]:
    """The directory holding the module's top-level package (or module), if it is imported."""
    if not module:
        return None
    top = sys.modules.get(module.split(".", 1)[0])
    path = getattr(top, "__file__", None)
    if not isinstance(path, str):
        return None
    return path.rsplit(os.sep, 2)[0]


def _relative_filename(abs_path: Optional[str], module: Optional[str]) -> Optional[str]:
    # /srv/site-packages/pkg/sub/mod.py for module "pkg.sub.mod" -> pkg/sub/mod.py
    root = _top_package_dir(module)
    if not abs_path or not root:
        return abs_path
    return abs_path.split(root, 1)[-1].lstrip(os.sep) or abs_path


def _frame_dict(
    frame: Any, lineno: Optional[int], transformer: Callable[[Any], Any], capture_locals: bool
) -> dict[str, Any]:
    f_globals = getattr(frame, "f_globals", None)
    code = getattr(frame, "f_code", None)
    abs_path = getattr(code, "co_filename", None) if code is not None else None
    function = getattr(code, "co_name", None) if code is not None else None
    module = _getitem(f_globals, "__name__")
    result: dict[str, Any] = {
        "abs_path": abs_path,
        "filename": _relative_filename(abs_path, module if isinstance(module, str) else None),
        "module": module or None,
        "function": function or "<unknown>",
        "lineno": lineno,
    }
    if capture_locals:
        frame_vars = get_frame_locals(frame, transformer=transformer)
        if frame_vars:
            result["vars"] = frame_vars
    if lineno and isinstance(abs_path, str):
        pre, line, post = get_lines_from_file(
            abs_path, lineno - 1, 5, _getitem(f_globals, "__loader__"), result["module"]
        )
        if line is not None:
            result["pre_context"] = pre
            result["context_line"] = line
            result["post_context"] = post
    return result


def get_stack_info(
    frames: Any,
    transformer: Callable[[Any], Any] = transform,
    capture_locals: bool = True,
    frame_allowance: int = 25,
) -> dict[str, list[dict[str, Any]]]:
    """raven 6.10's ``{'frames': [...]}`` for ``frames``: frame objects or ``(frame, lineno)``
    pairs, oldest first (as :func:`iter_stack_frames` and :func:`iter_traceback_frames` give)."""
    __traceback_hide__ = True  # noqa: F841  (this helper never shows up in a stack it builds)
    result = []
    for item in frames:
        if isinstance(item, (list, tuple)):
            frame, lineno = item
        else:
            frame, lineno = item, getattr(item, "f_lineno", None)
        if _hidden(frame):
            continue
        result.append(_frame_dict(frame, lineno, transformer, capture_locals))
    return {"frames": slim_frame_data(result, frame_allowance=frame_allowance)}
