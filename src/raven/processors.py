"""raven 6.10's data processors, on raven-ng's event format.

A processor is built with the client (``Processor(client)``) and its ``process(data)`` returns
the event to send. The hooks are those of raven 6.10: ``filter_stacktrace`` (every stacktrace:
each exception's, and a message's ``stack=True`` one), ``filter_http`` (``request``),
``filter_extra`` (``extra``); plus ``filter_breadcrumbs`` (breadcrumbs' ``data``), which raven
6.10 did not scrub.

Sanitizing masks a value with ``MASK`` when its key contains one of the sanitize keys
(case-insensitively; a container under such a key is masked whole) and, for
``SanitizePasswordsProcessor``, any string that looks like a credit card number.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Optional

__all__ = [
    "Processor",
    "RemovePostDataProcessor",
    "RemoveStackLocalsProcessor",
    "SanitizeKeysProcessor",
    "SanitizePasswordsProcessor",
    "varmap",
]

_HTTP_FIELDS = ("data", "cookies", "headers", "env", "query_string")


def varmap(
    func: Callable[[Any, Any], Any], var: Any, context: Optional[dict[int, int]] = None, name: Any = None
) -> Any:
    """raven.utils.varmap: ``func(key, value)`` on every value, recursing into the dicts it
    returns and into lists/tuples (whose items keep the parent's key). Cycles become '<...>'."""
    if context is None:
        context = {}
    objid = id(var)
    if objid in context:
        return func(name, "<...>")
    context[objid] = 1
    try:
        if isinstance(var, (list, tuple)) and not hasattr(type(var), "_fields"):
            return [varmap(func, f, context, name) for f in var]
        ret = func(name, var)
        if isinstance(ret, Mapping):
            ret = {k: varmap(func, v, context, k) for k, v in var.items()}
        return ret
    finally:
        del context[objid]


class Processor:
    """Base class: ``process`` walks the event and calls the ``filter_*`` hooks."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_data(self, data: dict[str, Any], **kwargs: Any) -> Optional[dict[str, Any]]:
        return None

    def process(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        resp = self.get_data(data, **kwargs)
        if resp:
            data = resp

        for stacktrace in _stacktraces(data):
            self.filter_stacktrace(stacktrace)

        request = data.get("request")
        if isinstance(request, dict):
            self.filter_http(request)

        if "extra" in data:
            data["extra"] = self.filter_extra(data["extra"])

        crumbs = data.get("breadcrumbs")
        values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
        if isinstance(values, list) and values:
            self.filter_breadcrumbs(values)

        return data

    def filter_stacktrace(self, data: dict[str, Any]) -> None:
        pass

    def filter_http(self, data: dict[str, Any]) -> None:
        pass

    def filter_extra(self, data: Any) -> Any:
        return data

    def filter_breadcrumbs(self, crumbs: list[Any]) -> None:
        pass


def _stacktraces(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    exc = data.get("exception")
    if isinstance(exc, dict):
        for value in exc.get("values") or ():
            if isinstance(value, dict) and isinstance(value.get("stacktrace"), dict):
                found.append(value["stacktrace"])
    if isinstance(data.get("stacktrace"), dict):
        found.append(data["stacktrace"])
    threads = data.get("threads")
    if isinstance(threads, dict):
        for value in threads.get("values") or ():
            if isinstance(value, dict) and isinstance(value.get("stacktrace"), dict):
                found.append(value["stacktrace"])
    return found


def _frames(stacktrace: dict[str, Any]) -> Iterable[dict[str, Any]]:
    frames = stacktrace.get("frames")
    if isinstance(frames, list):
        for frame in frames:
            if isinstance(frame, dict):
                yield frame


class RemovePostDataProcessor(Processor):
    """Removes HTTP post data."""

    def filter_http(self, data: dict[str, Any], **kwargs: Any) -> None:
        data.pop("data", None)


class RemoveStackLocalsProcessor(Processor):
    """Removes local context variables from stacktraces."""

    def filter_stacktrace(self, data: dict[str, Any], **kwargs: Any) -> None:
        for frame in _frames(data):
            frame.pop("vars", None)


class _Scrubber:
    """A compiled key matcher (with a cache of key verdicts) and the optional value pattern."""

    __slots__ = ("pattern", "values_re", "verdicts")

    def __init__(self, keys: Iterable[Any], values_re: Optional[re.Pattern[str]]) -> None:
        words = sorted({_text(k).lower() for k in keys if k} - {""})
        self.pattern = re.compile("|".join(map(re.escape, words))) if words else None
        self.values_re = values_re
        self.verdicts: dict[str, bool] = {}

    def key_matches(self, key: str) -> bool:
        verdict = self.verdicts.get(key)
        if verdict is None:
            verdict = self.pattern is not None and self.pattern.search(key.lower()) is not None
            if len(self.verdicts) > 4096:
                self.verdicts.clear()
            self.verdicts[key] = verdict
        return verdict

    def scrub(self, value: Any, mask: str, depth: int = 0) -> Any:
        """A copy of ``value`` with masked entries (same semantics as varmap + sanitize)."""
        t = type(value)
        if t is str:
            return self._scrub_str(value, mask)
        if t in _LEAVES or depth > 64:
            return value
        if t is dict or isinstance(value, Mapping):
            verdicts = self.verdicts
            out = {}
            for k, v in value.items():
                if v is not None and k:
                    hit = verdicts.get(k) if type(k) is str else None
                    if hit is None:
                        hit = self.key_matches(k if type(k) is str else _text(k))
                    if hit:
                        out[k] = mask
                        continue
                tv = type(v)
                out[k] = (
                    v
                    if tv in _LEAVES
                    else self._scrub_str(v, mask)
                    if tv is str
                    else self.scrub(v, mask, depth + 1)
                )
            return out
        if t is list or t is tuple:
            return [x if type(x) in _LEAVES else self.scrub(x, mask, depth + 1) for x in value]
        if isinstance(value, str):
            return self._scrub_str(str.__str__(value), mask)
        return value

    def _scrub_str(self, value: str, mask: str) -> str:
        # Card numbers have at least 13 characters and start with a digit: most strings are
        # rejected before the regex runs.
        if (
            self.values_re is not None
            and len(value) >= 13
            and value[:1].isdigit()
            and self.values_re.match(value)
        ):
            return mask
        return value


_LEAVES = frozenset({int, float, bool, type(None)})


def _text(item: Any) -> str:
    if isinstance(item, bytes):
        return item.decode("utf-8", "replace")
    try:
        return str(item)
    except Exception:
        return ""


class SanitizeKeysProcessor(Processor):
    """
    Asterisk out things that correspond to a configurable set of keys
    (the client's ``sanitize_keys``).
    """

    MASK = "*" * 8
    # SanitizePasswordsProcessor also masks values that look like card numbers.
    VALUES_RE: Optional[re.Pattern[str]] = None
    _scrubber_cache: Optional[tuple[Any, _Scrubber]] = None

    @property
    def sanitize_keys(self) -> Iterable[str]:
        keys = getattr(self.client, "sanitize_keys", None)
        if keys is None:
            raise ValueError("The sanitize_keys setting must be present to use SanitizeKeysProcessor")
        return keys

    def sanitize(self, item: Any, value: Any) -> Any:
        """raven 6.10's per-value hook: ``MASK`` when ``item`` (the key) contains a sanitize key."""
        if value is None:
            return None
        if not item:
            return value
        item = _text(item).lower()
        for key in self.sanitize_keys:
            if key and _text(key).lower() in item:
                return self.MASK
        return value

    def _scrubber(self) -> Optional[_Scrubber]:
        # The compiled fast path, unless a subclass customised ``sanitize`` (then varmap runs it).
        if type(self).sanitize not in _BUILTIN_SANITIZE:
            return None
        keys = self.sanitize_keys
        cached = self._scrubber_cache
        if (
            cached is not None
            and cached[0][0] is keys
            and type(keys) is frozenset
            and cached[0][1] is self.VALUES_RE
        ):
            return cached[1]
        cache_key = (keys if type(keys) is frozenset else frozenset(keys), self.VALUES_RE)
        if cached is None or cached[0] != cache_key:
            cached = (cache_key, _Scrubber(keys, self.VALUES_RE))
            self._scrubber_cache = cached
        return cached[1]

    def _apply(self, value: Any) -> Any:
        scrubber = self._scrubber()
        if scrubber is None:
            return varmap(self.sanitize, value)
        return scrubber.scrub(value, self.MASK)

    def filter_stacktrace(self, data: dict[str, Any]) -> None:
        for frame in _frames(data):
            if "vars" in frame:
                frame["vars"] = self._apply(frame["vars"])

    def filter_http(self, data: dict[str, Any]) -> None:
        for n in _HTTP_FIELDS:
            if n not in data:
                continue
            if isinstance(data[n], bytes):
                data[n] = data[n].decode("utf-8", "replace")
            if isinstance(data[n], str) and "=" in data[n]:
                # A query string or a cookie header.
                data[n] = self._sanitize_keyvals(data[n], ";" if n == "cookies" else "&")
            else:
                data[n] = self._apply(data[n])
                if n == "headers" and isinstance(data[n], dict):
                    for name in ("Cookie", "cookie"):
                        if isinstance(data[n].get(name), str):
                            data[n][name] = self._sanitize_keyvals(data[n][name], ";")

    def filter_extra(self, data: Any) -> Any:
        return self._apply(data)

    def filter_breadcrumbs(self, crumbs: list[Any]) -> None:
        for crumb in crumbs:
            if isinstance(crumb, dict) and isinstance(crumb.get("data"), dict):
                crumb["data"] = self._apply(crumb["data"])

    def _sanitize_keyvals(self, keyvals: str, delimiter: str) -> str:
        scrubber = self._scrubber()
        sanitized = []
        for keyval in keyvals.split(delimiter):
            pair = keyval.split("=")
            if len(pair) != 2:
                sanitized.append(keyval)
            elif scrubber is None:
                sanitized.append(pair[0] + "=" + _text(self.sanitize(pair[0], pair[1])))
            elif pair[0] and scrubber.key_matches(pair[0]):
                sanitized.append(pair[0] + "=" + self.MASK)
            else:
                sanitized.append(pair[0] + "=" + scrubber._scrub_str(pair[1], self.MASK))
        return delimiter.join(sanitized)


class SanitizePasswordsProcessor(SanitizeKeysProcessor):
    """
    Asterisk out things that look like passwords, credit card numbers,
    and API keys in frames, http, and basic extra data.
    """

    KEYS = frozenset(
        [
            "password",
            "secret",
            "passwd",
            "authorization",
            "api_key",
            "apikey",
            "sentry_dsn",
            "access_token",
        ]
    )
    VALUES_RE = re.compile(r"^(?:\d[ -]*?){13,16}$")

    @property
    def sanitize_keys(self) -> Iterable[str]:
        return self.KEYS

    @property
    def FIELDS(self) -> frozenset[str]:
        warnings.warn(
            "`SanitizePasswordsProcessor.Fields` has been deprecated. Use "
            "`SanitizePasswordsProcessor.KEYS` or `SanitizePasswordsProcessor.sanitize_keys` "
            "instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.KEYS

    def sanitize(self, item: Any, value: Any) -> Any:
        value = super().sanitize(item, value)
        if isinstance(value, str) and self.VALUES_RE.match(value):
            return self.MASK
        return value


_BUILTIN_SANITIZE = (SanitizeKeysProcessor.sanitize, SanitizePasswordsProcessor.sanitize)
