"""Exceptions and stacks as Sentry frames (oldest first), with source context and locals.

What does not change between events is cached: per code object (path, function name, whether
it may hide itself), per (module, path) (filename, in_app), per source line (context).
"""

from __future__ import annotations

import builtins
import linecache
import os
import sys
import sysconfig
from types import BuiltinFunctionType, CodeType, FrameType, FunctionType, ModuleType, TracebackType
from typing import Any, Optional, Union

from .serialize import Walker, safe_str, trim_str, type_name
from .settings import MAX_CHAINED_EXCEPTIONS, MAX_EXCEPTION_VALUE_LENGTH, EventSettings

ExcInfo = tuple[Any, Any, Any]

MAX_CONTEXT_LINE_LENGTH = 512
_HIDE = "__traceback_hide__"
# Frame chains longer than this are certainly corrupt (a fake traceback that loops).
_MAX_WALK = 100_000
_CACHE_LIMIT = 4096
_DEFINITIONS = frozenset({ModuleType, FunctionType, BuiltinFunctionType})
_GROUP: Optional[type] = getattr(builtins, "BaseExceptionGroup", None)


def _stdlib_prefixes() -> tuple[str, ...]:
    paths: set[str] = set()
    try:
        found = sysconfig.get_paths()
        for name in ("stdlib", "platstdlib"):
            p = found.get(name)
            if p:
                paths.add(p)
                paths.add(os.path.realpath(p))
    except Exception:
        pass
    return tuple(p.rstrip(os.sep) + os.sep for p in paths)


_STDLIB = _stdlib_prefixes()
_THIRD_PARTY_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)

# id(code) -> (code, abs_path, function, may_hide). The code object is kept so a recycled id
# is never mistaken for another function's.
_CODE_INFO: dict[int, tuple[CodeType, str, str, bool]] = {}
# (include, exclude) -> {(module, abs_path): (filename, in_app)}
_PLACE: dict[tuple[frozenset[str], frozenset[str]], dict[tuple[Optional[str], str], tuple[str, bool]]] = {}
# (abs_path, lineno, context_lines) -> (linecache's list, pre, line, post); valid while
# linecache still holds that very list.
_CONTEXT: dict[tuple[str, int, int], tuple[list[str], tuple[str, ...], str, tuple[str, ...]]] = {}
# Files without source (deleted, compiled-only, "<string>").
_NO_SOURCE: set[str] = set()


def _code_info(code: CodeType) -> tuple[CodeType, str, str, bool]:
    info = _CODE_INFO.get(id(code))
    if info is not None and info[0] is code:
        return info
    abs_path = code.co_filename if type(code.co_filename) is str else "<unknown>"
    function = code.co_name if type(code.co_name) is str else "<unknown>"
    may_hide = _HIDE in code.co_varnames or _HIDE in code.co_names or _HIDE in code.co_cellvars
    info = (code, abs_path, function or "<unknown>", may_hide)
    if len(_CODE_INFO) >= _CACHE_LIMIT:
        _CODE_INFO.clear()
    _CODE_INFO[id(code)] = info
    return info


def module_rule(module: str, include: frozenset[str], exclude: frozenset[str]) -> Optional[bool]:
    """True / False when ``module`` matches an include / exclude prefix, else None."""
    # The longest matching prefix decides (so include "app" + exclude "app.vendor" works);
    # on a tie, exclusion wins, as in raven 6.10.
    best = -1
    verdict: Optional[bool] = None
    for prefix in include:
        if len(prefix) > best and module.startswith(prefix):
            best, verdict = len(prefix), True
    for prefix in exclude:
        if len(prefix) >= best and module.startswith(prefix):
            best, verdict = len(prefix), False
    return verdict


def is_in_app(
    module: Optional[str],
    abs_path: str,
    include: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> bool:
    """The in_app policy.

    1. A module matching an ``include_paths`` / ``exclude_paths`` prefix: True / False
       (longest prefix wins, exclusion on a tie).
    2. raven itself: False.
    3. Files under site-packages / dist-packages, the standard library (sysconfig's stdlib
       paths) and frozen modules: False.
    4. Everything else (the application's own code, "<string>", "<stdin>"): True.
    """
    if module:
        verdict = module_rule(module, include, exclude)
        if verdict is not None:
            return verdict
        if module == "raven" or module.startswith("raven."):
            return False
    if abs_path.startswith("<frozen"):
        return False
    for d in _THIRD_PARTY_DIRS:
        if d in abs_path:
            return False
    return not abs_path.startswith(_STDLIB)


def _filename(module: Optional[str], abs_path: str) -> str:
    # The path relative to the module's import root: "pkg/sub/mod.py" for module "pkg.sub.mod",
    # stable across machines (abs_path is not).
    if abs_path.startswith("<"):
        return abs_path
    parts = abs_path.split(os.sep)
    n = module.count(".") + 1 if module else 1
    if parts[-1].startswith("__init__."):
        n += 1
    return os.sep.join(parts[-n:]) or abs_path


def _place(
    module: Optional[str],
    abs_path: str,
    cache: dict[tuple[Optional[str], str], tuple[str, bool]],
    settings: EventSettings,
) -> tuple[str, bool]:
    key = (module, abs_path)
    found = cache.get(key)
    if found is None:
        found = (
            _filename(module, abs_path),
            is_in_app(module, abs_path, settings.include_paths, settings.exclude_paths),
        )
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = found
    return found


def _place_cache(settings: EventSettings) -> dict[tuple[Optional[str], str], tuple[str, bool]]:
    key = (settings.include_paths, settings.exclude_paths)
    cache = _PLACE.get(key)
    if cache is None:
        if len(_PLACE) >= 64:
            _PLACE.clear()
        cache = _PLACE[key] = {}
    return cache


def _clip_line(line: str) -> str:
    return trim_str(line.rstrip("\r\n"), MAX_CONTEXT_LINE_LENGTH)


def source_context(
    abs_path: str, lineno: int, globals_: Any = None, context_lines: int = 5
) -> Optional[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """(pre_context, context_line, post_context) for 1-based ``lineno``, or None."""
    if abs_path in _NO_SOURCE:
        return None
    key = (abs_path, lineno, context_lines)
    try:
        lines = linecache.getlines(abs_path, globals_ if type(globals_) is dict else None)
    except Exception:
        lines = []
    if not lines:
        # linecache retries (stat, loader) on every call for a missing file: remember the miss.
        if len(_NO_SOURCE) >= _CACHE_LIMIT:
            _NO_SOURCE.clear()
        _NO_SOURCE.add(abs_path)
        return None
    hit = _CONTEXT.get(key)
    if hit is not None and hit[0] is lines:
        return hit[1], hit[2], hit[3]
    i = lineno - 1
    if i < 0 or i >= len(lines):
        return None
    try:
        pre = tuple(_clip_line(x) for x in lines[max(0, i - context_lines) : i])
        line = _clip_line(lines[i])
        post = tuple(_clip_line(x) for x in lines[i + 1 : i + 1 + context_lines])
    except Exception:
        return None
    if len(_CONTEXT) >= _CACHE_LIMIT:
        _CONTEXT.clear()
    _CONTEXT[key] = (lines, pre, line, post)
    return pre, line, post


def frame_vars(frame: FrameType, settings: EventSettings) -> Optional[dict[str, Any]]:
    """The frame's locals, serialized within ``max_frame_vars_size``.

    Dunder names are skipped; in module-level frames (locals are the module's globals) so are
    modules, functions and classes: they are the module's definitions, not its state.
    """
    try:
        f_locals = frame.f_locals
        module_level = f_locals is frame.f_globals
        items = f_locals.items() if type(f_locals) is dict else dict(f_locals).items()
        w = Walker(settings, settings.max_frame_vars_size)
        smax = w.smax
        walk = w.walk
        out: dict[str, Any] = {}
        left = w.lmax
        for k, v in items:
            if type(k) is str and len(k) <= smax and k.isascii():
                if k.startswith("__") and k.endswith("__"):
                    continue
            else:
                k = w.key(k)
            if module_level and (type(v) in _DEFINITIONS or issubclass(type(v), type)):
                continue
            if left <= 0:
                break
            left -= 1
            out[k] = walk(v, 0)
        return out or None
    except Exception:
        return None


def _hidden(frame: FrameType, may_hide: bool) -> bool:
    if not may_hide:
        return False
    try:
        return bool(frame.f_locals.get(_HIDE))
    except Exception:
        return False


def _serialize_frames(
    pairs: list[tuple[FrameType, Optional[int]]], settings: EventSettings, with_vars: bool
) -> list[dict[str, Any]]:
    """(frame, lineno) pairs, oldest first -> Sentry frames.

    Hidden frames (``__traceback_hide__``) go, and so does the middle of a stack deeper than
    ``max_frames``; locals are read for the innermost ``max_frames_with_vars`` frames only.
    """
    visible = []
    for f, lineno in pairs:
        try:
            info = _code_info(f.f_code)
        except Exception:
            continue
        if info[3] and _hidden(f, True):
            continue
        visible.append((f, lineno, info))
    limit = max(settings.max_frames, 2)
    if len(visible) > limit:
        head = limit // 2
        visible = visible[:head] + visible[len(visible) - (limit - head) :]
    cache = _place_cache(settings)
    vars_from = len(visible) - settings.max_frames_with_vars if with_vars else len(visible)
    context_lines = settings.context_lines
    out = []
    for index, (f, lineno, (_code, abs_path, function, _hide)) in enumerate(visible):
        try:
            g: Any = f.f_globals
            module = g.get("__name__") if type(g) is dict else None
            if type(module) is not str:
                module = None
        except Exception:
            g, module = None, None
        filename, in_app = _place(module, abs_path, cache, settings)
        frame: dict[str, Any] = {
            "filename": filename,
            "abs_path": abs_path,
            "function": function,
            "in_app": in_app,
        }
        if module is not None:
            frame["module"] = module
        if type(lineno) is int and lineno > 0:
            frame["lineno"] = lineno
            if context_lines > 0:
                ctx = source_context(abs_path, lineno, g, context_lines)
                if ctx is not None:
                    frame["pre_context"] = list(ctx[0])
                    frame["context_line"] = ctx[1]
                    frame["post_context"] = list(ctx[2])
        if index >= vars_from:
            fv = frame_vars(f, settings)
            if fv is not None:
                frame["vars"] = fv
        out.append(frame)
    return out


def traceback_frames(tb: Optional[TracebackType], settings: EventSettings) -> list[dict[str, Any]]:
    """The frames of a traceback, oldest (outermost) first."""
    pairs: list[tuple[FrameType, Optional[int]]] = []
    try:
        while tb is not None and len(pairs) < _MAX_WALK:
            pairs.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
    except Exception:
        pass
    return _serialize_frames(pairs, settings, settings.capture_locals)


def _normalize_exc_info(exc_info: Any) -> Optional[ExcInfo]:
    if exc_info is None or exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return type(exc_info), exc_info, exc_info.__traceback__
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc_type, exc, tb = exc_info
        if exc_type is None and exc is None:
            return None
        if exc_type is None:
            exc_type = type(exc)
        return exc_type, exc, tb
    return None


def _next_in_chain(exc: BaseException) -> tuple[Optional[BaseException], str]:
    """What Python's traceback would print before ``exc``: its cause, else its unsuppressed context."""
    try:
        nxt = exc.__cause__
        if nxt is not None:
            return nxt, "__cause__"
        if exc.__suppress_context__:
            return None, ""
        return exc.__context__, "__context__"
    except Exception:
        return None, ""


def _chain(exc_info: ExcInfo) -> list[tuple[Any, Any, Any, dict[str, Any]]]:
    """The exception and its causes, newest first, each with how it was attached to the newer one."""
    exc_type, exc, tb = exc_info
    chain: list[tuple[Any, Any, Any, dict[str, Any]]] = [(exc_type, exc, tb, {})]
    if not isinstance(exc, BaseException):
        return chain
    seen = {id(exc)}
    cur: BaseException = exc
    while len(chain) < MAX_CHAINED_EXCEPTIONS:
        nxt, source = _next_in_chain(cur)
        if not isinstance(nxt, BaseException) or id(nxt) in seen:
            break
        seen.add(id(nxt))
        chain.append((type(nxt), nxt, nxt.__traceback__, {"source": source}))
        cur = nxt
    return chain


def _group_tree(exc_info: ExcInfo) -> list[tuple[Any, Any, Any, dict[str, Any]]]:
    """An exception group as Sentry's exception tree: depth first from the raised group (its
    causes, then its sub-exceptions), each with ``exception_id`` / ``parent_id`` / ``source``."""
    out: list[tuple[Any, Any, Any, dict[str, Any]]] = []
    seen: set[int] = set()

    def visit(exc_type: Any, exc: BaseException, tb: Any, parent: Optional[int], source: str) -> None:
        if len(out) >= MAX_CHAINED_EXCEPTIONS or id(exc) in seen:
            return
        seen.add(id(exc))
        me = len(out)
        extra: dict[str, Any] = {"exception_id": me}
        if parent is not None:
            extra["parent_id"] = parent
            extra["source"] = source
        is_group = _GROUP is not None and isinstance(exc, _GROUP)
        if is_group:
            extra["is_exception_group"] = True
        out.append((exc_type, exc, tb, extra))
        nxt, how = _next_in_chain(exc)
        if isinstance(nxt, BaseException):
            visit(type(nxt), nxt, nxt.__traceback__, me, how)
        if is_group:
            try:
                subs = list(exc.exceptions)  # type: ignore[attr-defined]
            except Exception:
                subs = []
            for i, sub in enumerate(subs):
                if isinstance(sub, BaseException):
                    visit(type(sub), sub, sub.__traceback__, me, f"exceptions[{i}]")

    exc_type, exc, tb = exc_info
    visit(exc_type, exc, tb, None, "")
    return out


def _exception_entry(exc_type: Any, exc: Any, tb: Any, settings: EventSettings) -> dict[str, Any]:
    try:
        name = exc_type.__name__ if isinstance(exc_type, type) else type_name(exc)
        module = exc_type.__module__ if isinstance(exc_type, type) else None
    except Exception:
        name, module = type_name(exc), None
    entry: dict[str, Any] = {
        "type": safe_str(name, 256) or "Error",
        "value": "" if exc is None else safe_str(exc, MAX_EXCEPTION_VALUE_LENGTH),
    }
    if module is not None:
        entry["module"] = safe_str(module, 256)
    if not isinstance(tb, TracebackType) and isinstance(exc, BaseException):
        tb = exc.__traceback__
    if isinstance(tb, TracebackType):
        frames = traceback_frames(tb, settings)
        if frames:
            entry["stacktrace"] = {"frames": frames}
    return entry


def exception_values(
    exc_info: Union[ExcInfo, BaseException, None, bool],
    settings: EventSettings,
    *,
    handled: bool = True,
    mechanism_type: str = "generic",
) -> list[dict[str, Any]]:
    """Sentry's ``exception.values`` for ``exc_info`` (a sys.exc_info() tuple, an exception, or
    None/True for the one being handled). Never raises; [] when there is no exception.

    The chain (``__cause__``, else ``__context__`` unless suppressed) comes oldest first, the
    raised exception last; cycles end the chain. Every value has a mechanism
    ``{type, handled}``; causes also say how they were attached (``source``). An exception
    group (3.11+) is sent as Sentry's exception tree: its sub-exceptions and their causes, with
    ``exception_id`` / ``parent_id``, the group itself last. At most 25 exceptions are kept.
    """
    try:
        info = _normalize_exc_info(exc_info)
        if info is None:
            return []
        is_group = _GROUP is not None and isinstance(info[1], _GROUP)
        values = []
        for exc_type, exc, tb, extra in _group_tree(info) if is_group else _chain(info):
            entry = _exception_entry(exc_type, exc, tb, settings)
            # In a group's tree every exception but the root is "chained" (as sentry-sdk does).
            kind = "chained" if "parent_id" in extra else mechanism_type
            entry["mechanism"] = {"type": kind, "handled": handled, **extra}
            values.append(entry)
        values.reverse()
        return values
    except Exception:
        return [
            {
                "type": "Error",
                "value": "<exception could not be serialized>",
                "mechanism": {"type": mechanism_type, "handled": handled},
            }
        ]


def current_stacktrace(
    settings: EventSettings,
    *,
    skip_modules: tuple[str, ...] = ("raven.",),
    frame: Optional[FrameType] = None,
) -> dict[str, Any]:
    """The stack of ``frame`` (default: the caller's), oldest first, as ``{"frames": [...]}``.

    The innermost run of frames whose module starts with one of ``skip_modules`` (raven's own
    capture machinery) is dropped. Locals are captured when ``settings.capture_locals`` is set,
    as raven 6.10 did for ``stack=True``.
    """
    try:
        f: Optional[FrameType] = frame if frame is not None else sys._getframe(1)
        newest_first: list[FrameType] = []
        while f is not None and len(newest_first) < _MAX_WALK:
            newest_first.append(f)
            f = f.f_back
        start = 0
        if skip_modules:
            prefixes = tuple(skip_modules)
            while start < len(newest_first):
                g = newest_first[start].f_globals
                module = g.get("__name__") if type(g) is dict else None
                if not (type(module) is str and module.startswith(prefixes)):
                    break
                start += 1
        pairs = [(fr, fr.f_lineno) for fr in reversed(newest_first[start:])]
        return {"frames": _serialize_frames(pairs, settings, settings.capture_locals)}
    except Exception:
        return {"frames": []}
