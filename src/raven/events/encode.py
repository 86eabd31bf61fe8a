"""Events to JSON bytes: compact, strict (no NaN, valid UTF-8), never raising, never oversized.

An event that is too large is trimmed in stages, cheapest loss first, re-encoding after each:

1. pathological values: strings over 16 KiB, lists over 250 items, breadcrumbs beyond the
   newest 100;
2. frame locals, oldest frames first, the innermost frame of the raised exception last;
3. frames from the middle of each stacktrace (the outermost and innermost are kept);
4. shorter strings and lists, then breadcrumbs, extra, request bodies, contexts;
5. a minimal event: ids, level, logger, tags, message, exception types/values and the first
   and last frames.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional

from .serialize import safe_value, trim_str
from .settings import MAX_EVENT_BYTES, EventSettings

logger = logging.getLogger("raven.errors")

# Limits for serializing a whole event that the fast path could not encode: values inside an
# event are normally already bounded, so these only catch what was not.
_FALLBACK_SETTINGS = EventSettings(
    string_max_length=256 * 1024,
    list_max_length=10_000,
    max_depth=40,
    max_value_size=64 * 1024 * 1024,
)


def _default(obj: Any) -> Any:
    # Objects json cannot encode become their safe value (usually a bounded repr).
    value = safe_value(obj)
    if type(value) is not str and type(value) is type(obj):
        # Defensive: returning the same kind of object would loop inside the encoder.
        return repr(type(obj))
    return value


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=True, separators=(",", ":"), default=_default
)


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: replaced, so the body stays valid UTF-8.
        return text.encode("utf-8", "replace")


def dumps(event: Any) -> bytes:
    """Compact JSON bytes for any value; falls back to a safe copy when json refuses it."""
    try:
        return _to_bytes(_ENCODER.encode(event))
    except Exception:
        pass
    try:
        return _to_bytes(_ENCODER.encode(safe_value(event, _FALLBACK_SETTINGS)))
    except Exception:
        return b"{}"


def encode_event(event: dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> bytes:
    """The event as compact UTF-8 JSON bytes, at most ``max_bytes`` long. Never raises.

    Values json cannot encode (NaN, cycles, odd keys, arbitrary objects) are made safe; an
    oversized event is trimmed (see the module docstring) and a warning is logged.
    """
    body = dumps(event)
    if len(body) <= max_bytes:
        return body
    try:
        trimmed = _trim(json.loads(body), max_bytes)
    except Exception:
        logger.exception("raven: could not trim an oversized event")
        trimmed = None
    if trimmed is None:
        return b"{}"
    logger.warning("raven: event of %d bytes trimmed to %d bytes", len(body), len(trimmed))
    return trimmed


# --- trimming (works on a plain JSON copy, free to mutate) -------------------------------------


def _stacktraces(ev: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stacktrace in the event, the most valuable first (the raised exception)."""
    found: list[dict[str, Any]] = []
    exc = ev.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc if isinstance(exc, list) else None
    if isinstance(values, list):
        for v in reversed(values):
            if isinstance(v, dict) and isinstance(v.get("stacktrace"), dict):
                found.append(v["stacktrace"])
    if isinstance(ev.get("stacktrace"), dict):
        found.append(ev["stacktrace"])
    threads = ev.get("threads")
    tvalues = threads.get("values") if isinstance(threads, dict) else None
    if isinstance(tvalues, list):
        for t in tvalues:
            if isinstance(t, dict) and isinstance(t.get("stacktrace"), dict):
                found.append(t["stacktrace"])
    return [s for s in found if isinstance(s.get("frames"), list)]


def _cap(value: Any, smax: int, lmax: int) -> Any:
    """Strings cut to ``smax``, lists to ``lmax`` items (frames keep both ends)."""
    if isinstance(value, str):
        return trim_str(value, smax)
    if isinstance(value, list):
        if len(value) > lmax:
            value = value[:lmax]
        return [_cap(x, smax, lmax) for x in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "frames" and isinstance(v, list) and len(v) > lmax:
                head = lmax // 2
                v = v[:head] + v[len(v) - (lmax - head) :]
            out[trim_str(k, smax)] = _cap(v, smax, lmax)
        return out
    return value


def _keep_breadcrumbs(ev: dict[str, Any], n: int) -> None:
    crumbs = ev.get("breadcrumbs")
    if isinstance(crumbs, dict) and isinstance(crumbs.get("values"), list):
        crumbs["values"] = crumbs["values"][-n:] if n else []
    elif isinstance(crumbs, list):
        ev["breadcrumbs"] = crumbs[-n:] if n else []


def _size(value: Any) -> int:
    return len(dumps(value))


def _drop_vars(ev: dict[str, Any], over: int) -> None:
    """Drop frame locals until about ``over`` bytes are gone: innermost frame of the raised
    exception last, otherwise oldest frames (and older exceptions) first."""
    pieces: list[dict[str, Any]] = []
    innermost: list[dict[str, Any]] = []
    for i, st in enumerate(_stacktraces(ev)):
        frames = [f for f in st["frames"] if isinstance(f, dict) and "vars" in f]
        if i == 0 and frames:
            innermost.append(frames.pop())
        pieces.extend(frames)
    for frame in pieces + innermost:
        if over <= 0:
            return
        over -= _size(frame["vars"])
        del frame["vars"]


def _drop_middle_frames(ev: dict[str, Any], keep: int) -> None:
    for st in _stacktraces(ev):
        frames = st["frames"]
        if len(frames) > keep:
            head = max(keep // 2, 1)
            st["frames"] = frames[:head] + frames[len(frames) - (keep - head) :]


def _drop_context(ev: dict[str, Any]) -> None:
    for st in _stacktraces(ev):
        for f in st["frames"]:
            if isinstance(f, dict):
                f.pop("pre_context", None)
                f.pop("post_context", None)


def _drop_largest(ev: dict[str, Any], key: str, over: int) -> None:
    section = ev.get(key)
    if not isinstance(section, dict):
        return
    for name, _ in sorted(((k, _size(v)) for k, v in section.items()), key=lambda kv: -kv[1]):
        if over <= 0:
            return
        size = _size(section[name])
        section[name] = "<removed: event too large>"
        over -= size


_MINIMAL_KEYS = (
    "event_id",
    "timestamp",
    "level",
    "platform",
    "logger",
    "server_name",
    "release",
    "dist",
    "environment",
    "sdk",
    "transaction",
    "fingerprint",
    "tags",
    "message",
    "logentry",
    "culprit",
)


def _minimal(ev: dict[str, Any]) -> dict[str, Any]:
    out = {k: ev[k] for k in _MINIMAL_KEYS if k in ev}
    exc = ev.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else None
    if isinstance(values, list):
        kept = []
        for v in values[-5:]:
            if not isinstance(v, dict):
                continue
            entry = {k: v[k] for k in ("type", "value", "module", "mechanism") if k in v}
            st = v.get("stacktrace")
            if isinstance(st, dict) and isinstance(st.get("frames"), list) and st["frames"]:
                ends = st["frames"][:1] + st["frames"][1:][-1:]
                entry["stacktrace"] = {
                    "frames": [
                        {
                            k: f[k]
                            for k in ("filename", "abs_path", "module", "function", "lineno", "in_app")
                            if k in f
                        }
                        for f in ends
                        if isinstance(f, dict)
                    ]
                }
            kept.append(entry)
        out["exception"] = {"values": kept}
    return _cap(out, 1024, 50)


def _trim(ev: Any, max_bytes: int) -> Optional[bytes]:
    if not isinstance(ev, dict):
        return None

    def fits() -> Optional[bytes]:
        body = dumps(ev)
        return body if len(body) <= max_bytes else None

    def over() -> int:
        return len(dumps(ev)) - max_bytes

    steps: list[Callable[[], object]] = [
        lambda: _keep_breadcrumbs(ev, 100),
        lambda: ev.update(_cap(ev, 16 * 1024, 250)),
        lambda: _drop_vars(ev, over()),
        lambda: _drop_middle_frames(ev, 50),
        lambda: _drop_middle_frames(ev, 10),
        lambda: ev.update(_cap(ev, 1024, 50)),
        lambda: _keep_breadcrumbs(ev, 0),
        lambda: _drop_largest(ev, "extra", over()),
        lambda: _drop_context(ev),
        lambda: (ev.get("request") or {}).pop("data", None) if isinstance(ev.get("request"), dict) else None,
        lambda: [ev.pop(k, None) for k in ("request", "contexts", "modules", "extra", "user", "breadcrumbs")],
    ]
    for step in steps:
        step()
        body = fits()
        if body is not None:
            return body
    small = _minimal(ev)
    body = dumps(small)
    if len(body) <= max_bytes:
        return body
    body = dumps(_cap(small, 64, 10))
    return body if len(body) <= max_bytes else None
