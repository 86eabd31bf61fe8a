"""Breadcrumbs: the trail of recent log records and HTTP calls sent along with the next event.

The raven 6.10 API is kept: :func:`record` (what integrations call), :func:`install_logging_hook`,
:func:`ignore_logger`, :func:`register_special_log_handler`, :func:`register_logging_handler` and
:func:`hook_libraries`. Recording must cost the application almost nothing, so a crumb is stored
raw in a bounded ring (100 per thread and client) and only formatted when an event is built.

The logging hook wraps ``Logger.debug`` / ``info`` / ``warning`` / ``error`` / ``exception`` /
``critical`` / ``log``, as raven 6.10 did: every call leaves a crumb, also below the logger's
level (a debug call on a logger at WARNING still tells what happened before an error), with the
call's keyword arguments, ``extra`` and a dict argument as the crumb's data. A call costs a deque
append when a client context is active, a function call otherwise. The wrappers are marked as
logging's own code, so logging still reports the application's file and line as the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, Union

from raven.utils import once  # noqa: F401  (raven 6.10 name of this module)
from raven.utils.compat import get_code  # noqa: F401  (raven 6.10 name of this module)
from raven.utils.levels import normalize_level

__all__ = (
    "BreadcrumbBuffer",
    "BlackholeBreadcrumbBuffer",
    "make_buffer",
    "record",
    "record_breadcrumb",
    "install_logging_hook",
    "ignore_logger",
    "register_special_log_handler",
    "register_logging_handler",
    "hook_libraries",
    "libraryhook",
    "event_payload_considered_equal",
)

CATEGORY_MAX_LENGTH = 128
LEVEL_MAX_LENGTH = 16

logger = logging.getLogger("raven.breadcrumbs")

#: Callbacks ``(logger, level, msg, args, kwargs) -> bool``; True means "no breadcrumb".
LogCallback = Callable[[logging.Logger, int, Any, Any, dict[str, Any]], Any]
special_logging_handlers: list[LogCallback] = []
special_logger_handlers: dict[str, LogCallback] = {}

Processor = Callable[[dict[str, Any]], Any]

#: A stored crumb: ``(payload, processor)`` for recorded crumbs, or
#: ``(created, levelno, logger_name, msg, args, data)`` for log calls, formatted later.
_Entry = tuple[Any, ...]


def event_payload_considered_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two crumbs are the same record repeated (type, level, message, category, data);
    consecutive repeats are sent once."""
    return (
        a.get("type") == b.get("type")
        and a.get("level") == b.get("level")
        and a.get("message") == b.get("message")
        and a.get("category") == b.get("category")
        and a.get("data") == b.get("data")
    )


def _log_message(msg: Any, args: Any) -> str:
    """``msg % args`` as logging would, never raising: bad log calls still leave a crumb."""
    try:
        text = msg if isinstance(msg, str) else str(msg)
        if args:
            text = text % args
        return text
    except Exception:
        try:
            return str(msg)
        except Exception:
            return "<unprintable log message>"


class BreadcrumbBuffer:
    """The most recent ``limit`` breadcrumbs of one context in one thread."""

    def __init__(self, limit: int = 100, message_max_length: int = 1024) -> None:
        self.limit = limit
        self.message_max_length = message_max_length
        self.buffer: deque[_Entry] = deque(maxlen=limit)

    def record(
        self,
        timestamp: Optional[float] = None,
        level: Any = None,
        message: Any = None,
        category: Any = None,
        data: Any = None,
        type: Optional[str] = None,
        processor: Optional[Processor] = None,
    ) -> None:
        """Store a crumb. One with neither message, data nor processor is ignored."""
        if not (message or data or processor):
            logger.debug("breadcrumb ignored: it has no message, data or processor")
            return
        payload = {
            "type": type or "default",
            "timestamp": time.time() if timestamp is None else timestamp,
            "level": level,
            "message": message,
            "category": category,
            "data": data,
        }
        self.buffer.append((payload, processor))

    def append_log(
        self, created: float, levelno: int, name: str, msg: Any, args: Any, data: Any = None
    ) -> None:
        """Store a log call's essentials (never its exc_info: it would keep frames alive)."""
        self.buffer.append((created, levelno, name, msg, args, data))

    def clear(self) -> None:
        self.buffer.clear()

    def _format(self, payload: dict[str, Any], transform: Optional[Callable[[Any], Any]]) -> dict[str, Any]:
        crumb: dict[str, Any] = {"type": str(payload.get("type") or "default")}
        timestamp = payload.get("timestamp")
        try:
            crumb["timestamp"] = float(timestamp) if timestamp is not None else time.time()
        except (TypeError, ValueError):
            crumb["timestamp"] = time.time()
        level = payload.get("level")
        if level:
            crumb["level"] = normalize_level(level, default="info")
        message = payload.get("message")
        if message:
            crumb["message"] = _log_message(message, None)[: self.message_max_length]
        category = payload.get("category")
        if category:
            crumb["category"] = str(category)[:CATEGORY_MAX_LENGTH]
        data = payload.get("data")
        if data:
            if not isinstance(data, Mapping):
                data = {"value": data}
            crumb["data"] = transform(dict(data)) if transform is not None else dict(data)
        return crumb

    def _format_log(self, entry: _Entry, transform: Optional[Callable[[Any], Any]]) -> dict[str, Any]:
        created, levelno, name, msg, args, data = entry
        crumb: dict[str, Any] = {
            "type": "default",
            "timestamp": created,
            "level": normalize_level(levelno, default="info"),
            "category": name[:CATEGORY_MAX_LENGTH],
            "message": _log_message(msg, args)[: self.message_max_length],
        }
        if data:
            crumb["data"] = transform(dict(data)) if transform is not None else dict(data)
        return crumb

    def get_buffer(self, transform: Optional[Callable[[Any], Any]] = None) -> list[dict[str, Any]]:
        """The crumbs, oldest first, formatted for an event; consecutive duplicates collapsed."""
        result: list[dict[str, Any]] = []
        for entry in list(self.buffer):
            crumb: Optional[dict[str, Any]]
            if len(entry) == 6:
                crumb = self._format_log(entry, transform)
            else:
                payload, processor = entry
                try:
                    if processor is not None:
                        # raven's contract: the processor fills in the payload dict in place.
                        processor(payload)
                    crumb = self._format(payload, transform)
                except Exception:
                    logger.debug("a breadcrumb processor failed; crumb skipped", exc_info=True)
                    crumb = None
            if crumb is not None and not (result and event_payload_considered_equal(result[-1], crumb)):
                result.append(crumb)
        return result


class BlackholeBreadcrumbBuffer(BreadcrumbBuffer):
    """The buffer of a client created with ``enable_breadcrumbs=False``: keeps nothing."""

    def record(self, *args: Any, **kwargs: Any) -> None:
        pass

    def append_log(
        self, created: float, levelno: int, name: str, msg: Any, args: Any, data: Any = None
    ) -> None:
        pass


def make_buffer(enabled: bool = True) -> BreadcrumbBuffer:
    return BreadcrumbBuffer() if enabled else BlackholeBreadcrumbBuffer()


def _active_contexts() -> Any:
    return raven.context._active_set()


def record(
    message: Any = None,
    timestamp: Optional[float] = None,
    level: Any = None,
    category: Any = None,
    data: Any = None,
    type: Optional[str] = None,
    processor: Optional[Processor] = None,
) -> None:
    """Record a breadcrumb for every client context active in this thread.

    This is what integration code should call rather than ``client.captureBreadcrumb``.
    """
    contexts = _active_contexts()
    if not contexts:
        return
    if timestamp is None:
        timestamp = time.time()
    for ctx in list(contexts):
        ctx.breadcrumbs.record(timestamp, level, message, category, data, type, processor)


def record_breadcrumb(type: str, *args: Any, **kwargs: Any) -> None:
    """Legacy alias of :func:`record` taking the crumb type first."""
    kwargs["type"] = type
    record(*args, **kwargs)


# -- logging hook


def _is_own_logger(name: str) -> bool:
    return name == "raven" or name.startswith(("raven.", "sentry.errors"))


#: Keyword arguments of the logging methods themselves (not crumb data).
_LOG_KWARGS = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})


def _record_log(
    log: logging.Logger, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """A log call: a crumb for every active client context (raven 6.10's rules for its data)."""
    contexts = _active_contexts()
    if not contexts:
        return
    name = log.name
    if _is_own_logger(name):
        return
    for callback in special_logging_handlers:
        if callback(log, level, msg, args, kwargs):
            return
    callback = special_logger_handlers.get(name)  # type: ignore[assignment]
    if callback is not None and callback(log, level, msg, args, kwargs):
        return
    data = {key: value for key, value in kwargs.items() if key not in _LOG_KWARGS}
    extra = kwargs.get("extra")
    if isinstance(extra, Mapping):
        data.update(extra)
    format_args: Any = args
    if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        format_args = args[0]  # logging formats with the mapping itself
        data.update(format_args)
    created = time.time()
    for ctx in list(contexts):
        ctx.breadcrumbs.append_log(created, level, name, msg, format_args, data)


_hook_lock = threading.Lock()

#: The methods wrapped, and the level each logs at (``log`` takes it as its first argument).
_LOG_METHODS: dict[str, Optional[int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
    "log": None,
}


def _wrap(method: Callable[..., Any], level: Optional[int]) -> Callable[..., Any]:
    """``method`` recording a crumb first; its code says it is logging's own (``findCaller``
    skips logging's frames, so records keep the application's file and line)."""
    wrapper: Callable[..., Any]
    if level is None:

        def log_wrapper(self: logging.Logger, lvl: int, msg: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                _record_log(self, lvl, msg, args, kwargs)
            except Exception:
                pass  # a breadcrumb must never break logging
            return method(self, lvl, msg, *args, **kwargs)

        wrapper = log_wrapper
    else:

        def level_wrapper(self: logging.Logger, msg: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                _record_log(self, level, msg, args, kwargs)
            except Exception:
                pass  # a breadcrumb must never break logging
            return method(self, msg, *args, **kwargs)

        wrapper = level_wrapper
    srcfile = logging.addLevelName.__code__.co_filename
    wrapper.__code__ = wrapper.__code__.replace(co_filename=srcfile)
    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    setattr(wrapper, "__patched_for_raven__", True)  # noqa: B010
    return wrapper


def install_logging_hook() -> None:
    """Record every logging call as a breadcrumb. Installing twice does nothing."""
    with _hook_lock:
        if getattr(logging.Logger.info, "__patched_for_raven__", False):
            return
        for name, level in _LOG_METHODS.items():
            method = getattr(logging.Logger, name, None)
            if method is not None and not getattr(method, "__patched_for_raven__", False):
                setattr(logging.Logger, name, _wrap(method, level))


def ignore_logger(name_or_logger: Union[str, logging.Logger], allow_level: Optional[int] = None) -> None:
    """Record no breadcrumbs for this logger (except at ``allow_level`` and above)."""

    def callback(log: logging.Logger, level: int, msg: Any, args: Any, kwargs: dict[str, Any]) -> bool:
        return not (allow_level is not None and level >= allow_level)

    register_special_log_handler(name_or_logger, callback)


def register_special_log_handler(name_or_logger: Union[str, logging.Logger], callback: LogCallback) -> None:
    """Register ``callback(logger, level, msg, args, kwargs)`` for one logger name (children not included).

    A true return value means "no breadcrumb for this record".
    """
    name = name_or_logger if isinstance(name_or_logger, str) else name_or_logger.name
    special_logger_handlers[name] = callback


def register_logging_handler(callback: LogCallback) -> None:
    """Register a callback consulted for every log record; a true return value skips the crumb."""
    special_logging_handlers.append(callback)


# -- library hooks

hooked_libraries: dict[str, Callable[[], None]] = {}
_installed_libraries: set[str] = set()


def libraryhook(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a hook installer under a library name; it runs at most once."""

    def decorator(func: Callable[[], None]) -> Callable[[], None]:
        def install() -> None:
            with _hook_lock:
                if name in _installed_libraries:
                    return
                _installed_libraries.add(name)
            func()

        install.__name__ = func.__name__
        install.__doc__ = func.__doc__
        hooked_libraries[name] = install
        return install

    return decorator


def _is_event_upload(url: str) -> bool:
    # Our own sends (sync transports run on the caller's thread) are not application activity.
    path = url.split("?", 1)[0]
    return "/api/" in path and path.endswith(("/envelope/", "/store/"))


@libraryhook("httplib")
def _install_httplib() -> None:
    """Breadcrumbs for ``http.client`` requests (and so for urllib, urllib3 and requests)."""
    from http.client import HTTPConnection

    real_putrequest = HTTPConnection.putrequest
    real_getresponse = HTTPConnection.getresponse

    def putrequest(self: HTTPConnection, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self._raven_crumb = None  # type: ignore[attr-defined]
        if _active_contexts():
            try:
                full_url = url
                if not url.startswith(("http://", "https://")):
                    scheme = "https" if self.default_port == 443 else "http"
                    port = f":{self.port}" if self.port != self.default_port else ""
                    full_url = f"{scheme}://{self.host}{port}{url}"
                if not _is_event_upload(full_url):
                    data = {"url": full_url, "method": method}
                    self._raven_crumb = data  # type: ignore[attr-defined]
                    record(type="http", category="httplib", data=data)
            except Exception:
                pass
        return real_putrequest(self, method, url, *args, **kwargs)

    def getresponse(self: HTTPConnection, *args: Any, **kwargs: Any) -> Any:
        response = real_getresponse(self, *args, **kwargs)
        data = getattr(self, "_raven_crumb", None)
        if data is not None:
            # The crumb's data dict is shared with the stored crumb: fill in the outcome.
            data["status_code"] = response.status
            data["reason"] = response.reason
            self._raven_crumb = None  # type: ignore[attr-defined]
        return response

    HTTPConnection.putrequest = putrequest  # type: ignore[method-assign]
    HTTPConnection.getresponse = getresponse  # type: ignore[method-assign]


@libraryhook("requests")
def _install_requests() -> None:
    """requests sends through urllib3 and ``http.client``: the httplib hook records its calls."""
    hooked_libraries["httplib"]()


def hook_libraries(libraries: Optional[Iterable[str]]) -> None:
    """Install breadcrumb hooks for ``libraries`` (None: every known one).

    An unknown name is logged and skipped (raven 6.10 raised RuntimeError at ``Client()``).
    """
    names = list(hooked_libraries) if libraries is None else list(libraries)
    for name in names:
        install = hooked_libraries.get(name)
        if install is None:
            logging.getLogger("raven.errors").warning(
                "unknown library %r for breadcrumb hooks; known: %s",
                name,
                ", ".join(sorted(hooked_libraries)),
            )
            continue
        try:
            install()
        except Exception:
            logging.getLogger("raven.errors").warning(
                "could not hook %r for breadcrumbs", name, exc_info=True
            )


import raven.context  # noqa: E402  (cycle: raven.context imports this module's buffer classes)
