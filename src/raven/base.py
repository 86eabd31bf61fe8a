"""The raven 6.10 ``Client``: builds events on the caller's thread and hands them to a transport.

What the caller's thread does per event is kept to the minimum: everything that does not change
between events (SDK identity, runtime and OS contexts, server name, module versions, settings,
processors) is computed once in ``__init__``; an event is a dict copy, the dynamic fields, the
processors, one JSON encoding and a non-blocking hand-off to the dispatcher. The transport's
worker thread (if any) starts with the first event, not at ``Client()``.

Nothing raises into the caller once the client is built, except with ``raise_send_errors=True``
and a synchronous transport (as raven 6.10). Construction raises ``InvalidDsn`` /
``ConfigurationError`` for a malformed DSN, unknown or malformed transport options, bad
``sample_rate`` or a processor that cannot be imported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from random import Random
from types import FunctionType
from typing import Any, Callable, Optional, Union

from raven import events as _events
from raven._delivery.dsn import SPOOL_OPTIONS
from raven._delivery.model import ERROR, EventItem, Reason, Sent
from raven._runtime import logs as _logs
from raven._runtime.dispatch import loop_idiom
from raven.conf import defaults
from raven.conf.remote import RemoteConfig
from raven.context import Context, TransactionStack
from raven.events import wire as _wire
from raven.events.build import EVENT_KINDS, EventBuilder, is_event_id, new_event_id
from raven.exceptions import ConfigurationError
from raven.transport.registry import TransportRegistry, default_transports
from raven.version import CLIENT_NAME, SDK_NAME, VERSION

__all__ = ("Client", "DummyClient", "ClientState", "get_excepthook_client")

# raven 6.10's module namespace, for code (and tests) that import or patch these names here.
import uuid  # noqa: E402, F401
from threading import get_ident as get_thread_ident  # noqa: E402, F401

from raven.exceptions import APIError, RateLimited  # noqa: E402, F401
from raven.utils import get_auth_header, get_versions, merge_dicts  # noqa: E402, F401
from raven.utils.serializer import transform  # noqa: E402, F401
from raven.utils.stacks import get_stack_info, iter_stack_frames  # noqa: E402, F401


class ModuleProxyCache(dict[str, Any]):
    """raven 6.10's cache of classes by dotted path: ``cache['pkg.mod.Class']`` imports it once."""

    def __missing__(self, key: str) -> Any:
        value = _import_path(key)
        self[key] = value
        return value


PLATFORM_NAME = "python"
SDK_VALUE = {"name": SDK_NAME, "version": VERSION}

#: The first client created in the process (raven 6.10 kept it as ``raven.base.Raven``).
Raven: Optional[Client] = None

ExcInfo = tuple[Any, Any, Any]

_error_logger = logging.getLogger("sentry.errors")


def get_excepthook_client() -> Optional[Client]:
    """The client whose hook is ``sys.excepthook``, if any."""
    return getattr(sys.excepthook, "raven_client", None)


class ClientState:
    """raven 6.10's ``client.state``, reporting what the delivery core knows.

    ``did_fail()`` after a failed send (no HTTP answer, or any status but 2xx) until the next
    success; ``should_try()`` is False while the server rate-limits errors; ``retry_after`` is
    the server's Retry-After of that limit. Unlike raven 6.10 nothing is dropped because of this
    state: the core's own rules decide (``raven._delivery``).

    The attributes can still be assigned and ``set_fail`` / ``set_success`` called, as raven 6.10
    code and tests do; until the core settles another event the state is then what was set, with
    raven 6.10's own rule for ``should_try`` (wait ``retry_after``, or the square of the retries,
    at most 36 s). Without a DSN the state is only what was set.
    """

    ONLINE = 1
    ERROR = 0

    def __init__(self, core: Optional[Callable[[], Any]] = None) -> None:
        self._core: Callable[[], Any] = core or (lambda: None)
        self._own: dict[str, Any] = {
            "status": self.ONLINE,
            "last_check": None,
            "retry_number": 0,
            "retry_after": 0,
        }
        self._set_at: Optional[int] = None  # the core's outcome count when something was set

    def _delivery(self) -> Optional[dict[str, Any]]:
        """What the core knows, or None when what was set here speaks (no core, or nothing
        settled since)."""
        core = self._core()
        if core is None:
            return None
        health: dict[str, Any] = core.health()
        if self._set_at is not None and health["outcomes"] == self._set_at:
            return None
        return health

    def _field(self, name: str) -> Any:
        health = self._delivery()
        if health is None:
            return self._own[name]
        if name == "status":
            return self.ERROR if health["failures"] else self.ONLINE
        if name == "retry_number":
            return health["failures"]
        if name == "last_check":
            return health["failed_at"] if health["failures"] else None
        core = self._core()
        return core.limit_length("error") if core.limited_for("error", time.monotonic()) > 0 else 0

    def _assign(self, name: str, value: Any) -> None:
        if self._set_at is None or self._delivery() is not None:
            # Start from what is known now, so fields not assigned keep their meaning.
            self._own = {key: self._field(key) for key in self._own}
            core = self._core()
            self._set_at = core.health()["outcomes"] if core is not None else 0
        self._own[name] = value

    status = property(lambda self: self._field("status"), lambda self, v: self._assign("status", v))
    last_check = property(
        lambda self: self._field("last_check"), lambda self, v: self._assign("last_check", v)
    )
    retry_number = property(
        lambda self: self._field("retry_number"), lambda self, v: self._assign("retry_number", v)
    )
    retry_after = property(
        lambda self: self._field("retry_after"), lambda self, v: self._assign("retry_after", v)
    )

    def should_try(self) -> bool:
        """False while Sentry rate-limits error events (the core drops them meanwhile)."""
        health = self._delivery()
        if health is not None:
            return bool(self._core().limited_for("error", time.monotonic()) <= 0)
        own = self._own
        if own["status"] == self.ONLINE:
            return True
        interval = own["retry_after"] or min(own["retry_number"], 6) ** 2
        last_check = own["last_check"]
        return not isinstance(last_check, (int, float)) or time.time() - last_check > interval

    def set_fail(self, retry_after: float = 0) -> None:
        number = self.retry_number
        self.status = self.ERROR
        self.retry_number = number + 1
        self.last_check = time.time()
        self.retry_after = retry_after

    def set_success(self) -> None:
        self.status = self.ONLINE
        self.last_check = None
        self.retry_number = 0
        self.retry_after = 0

    def did_fail(self) -> bool:
        return bool(self.status == self.ERROR)


class _SeenMark:
    """``record_exception_seen``'s mark: which client captured which raise (its traceback)."""

    __slots__ = ("client_id", "tb")

    def __init__(self, client_id: Optional[int] = None, tb: Any = None) -> None:
        self.client_id = client_id
        self.tb = tb

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return _SeenMark, ()  # a traceback cannot be pickled, and means nothing elsewhere


def _import_path(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ImportError(f"{path!r} is not a dotted path")
    module = __import__(module_name, {}, {}, [attr])
    return getattr(module, attr)


def _as_exc_info(value: Any) -> Optional[ExcInfo]:
    """A usable ``(type, value, traceback)`` from what users pass as ``exc_info``, or None."""
    if value is None or value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    # raven 6.10 took a list as well as a tuple.
    if isinstance(value, (tuple, list)) and len(value) == 3 and not (value[0] is None and value[1] is None):
        exc_type, exc, tb = value
        if exc_type is None:
            exc_type = type(exc)
        if not isinstance(exc_type, type):
            return None
        return exc_type, exc, tb
    return None


def _module_versions(include_paths: Iterable[str]) -> dict[str, str]:
    """Versions of the installed packages named in ``include_paths``, and Python's.

    raven 6.10 sent the same (it imported the packages to find them; we only look at already
    imported modules and at installed distributions).
    """
    versions = {"python": "{}.{}.{}".format(*sys.version_info[:3])}
    names: set[str] = set()
    for path in include_paths:
        parts = str(path).split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    for name in sorted(names):
        version: Any = None
        module = sys.modules.get(name)
        for attr in ("__version__", "VERSION", "version"):
            candidate = getattr(module, attr, None) if module is not None else None
            if isinstance(candidate, str):
                version = candidate
                break
            if isinstance(candidate, (tuple, list)) and candidate:
                version = ".".join(str(part) for part in candidate)
                break
        if version is None and "." not in name:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version(name)
            except Exception:
                version = None
        if version is not None:
            versions[name] = str(version)
    return versions


class Client:
    """The Raven client.

    Reads its DSN from ``SENTRY_DSN`` when none is given; with no DSN at all the client is
    disabled and every capture quietly returns None.

    >>> from raven import Client
    >>> client = Client('https://public_key@sentry.example.com/1')
    >>> try:
    ...     1 / 0
    ... except ZeroDivisionError:
    ...     event_id = client.captureException()
    """

    logger = logging.getLogger("raven")
    protocol_version = "7"

    _registry = TransportRegistry(transports=default_transports)

    def __init__(
        self,
        dsn: Optional[str] = None,
        raise_send_errors: bool = False,
        transport: Optional[type] = None,
        install_sys_hook: bool = True,
        install_logging_hook: bool = True,
        hook_libraries: Optional[Iterable[str]] = None,
        enable_breadcrumbs: bool = True,
        _random_seed: Any = None,
        **options: Any,
    ) -> None:
        global Raven
        o = options
        cls = type(self)
        self.logger = logging.getLogger(f"{cls.__module__}.{cls.__name__}")
        self.error_logger = _error_logger
        self.uncaught_logger = logging.getLogger("sentry.errors.uncaught")
        self._local_state = threading.local()
        self.raise_send_errors = raise_send_errors
        self.state = ClientState(lambda: self._core)
        self.enable_breadcrumbs = enable_breadcrumbs
        self._sdk = SDK_VALUE
        self._builder = EventBuilder(self)
        # raven 6.10's send chain: the fast path unless a subclass overrides a step of it.
        self._plain_chain = all(
            getattr(cls, name) is getattr(Client, name) for name in ("encode", "send_encoded", "send_remote")
        )
        self._overrides_none = (
            self._plain_chain and cls.send is Client.send and cls.build_msg is Client.build_msg
        )
        self._direct = False  # set with the delivery: the fast path (see capture)
        self._hooks_overridden = any(
            getattr(cls, name) is not getattr(Client, name) for name in ("_successful_send", "_failed_send")
        )

        self.include_paths = set(o.get("include_paths") or ())
        self.exclude_paths = set(o.get("exclude_paths") or ())
        self.name = str(
            o.get("name") or os.environ.get("SENTRY_NAME") or o.get("machine") or defaults.NAME or ""
        )
        self.auto_log_stacks = bool(o.get("auto_log_stacks") or defaults.AUTO_LOG_STACKS)
        self.capture_locals = bool(o.get("capture_locals", defaults.CAPTURE_LOCALS))
        self.string_max_length = _positive_int(
            "string_max_length", o.get("string_max_length"), defaults.MAX_LENGTH_STRING
        )
        self.list_max_length = _positive_int(
            "list_max_length", o.get("list_max_length"), defaults.MAX_LENGTH_LIST
        )
        self.site = o.get("site")
        self.include_versions = bool(o.get("include_versions", True))
        self.sanitize_keys = o.get("sanitize_keys")
        processors = o.get("processors")
        self.processors = list(defaults.PROCESSORS if processors is None else processors)
        context = o.get("context")
        self.extra: dict[str, Any] = (
            dict(context) if context is not None else {"sys.argv": list(getattr(sys, "argv", []))}
        )
        self.tags: dict[str, Any] = dict(o.get("tags") or {})
        self.environment = o.get("environment") or os.environ.get("SENTRY_ENVIRONMENT") or None
        self.release = (
            o.get("release")
            or os.environ.get("SENTRY_RELEASE")
            or os.environ.get("HEROKU_SLUG_COMMIT")
            or None
        )
        self.repos = self._format_repos(o.get("repos"))
        self.sample_rate = _sample_rate(o.get("sample_rate"))
        self.ignore_exceptions = set(o.get("ignore_exceptions") or ())
        self.transaction = TransactionStack()
        self._random = Random(_random_seed)
        self.main_thread_id = threading.get_ident()

        unknown = set(o) - _KNOWN_OPTIONS
        if unknown:
            # raven 6.10 accepted any keyword; keep doing so, but say it has no effect.
            self.logger.debug("ignoring unknown Client options: %s", ", ".join(sorted(unknown)))

        self._settings = _events.EventSettings(
            string_max_length=self.string_max_length,
            list_max_length=self.list_max_length,
            capture_locals=self.capture_locals,
            include_paths=frozenset(str(p) for p in self.include_paths),
            exclude_paths=frozenset(str(p) for p in self.exclude_paths),
        )
        self._processor_instances = [self._load_processor(p) for p in self.processors]
        self._modules = _module_versions(self.include_paths) if self.include_versions else {}

        self._transport_cache: dict[Any, RemoteConfig] = {}
        self._dispatch_lock = threading.Lock()
        self._dispatcher: Any = None
        self._core: Any = None
        self._spool: Any = None
        self._spool_options = _spool_options(o)
        self._closed = False
        self.set_dsn(dsn, transport)

        self._context = Context(self)

        if not self.is_enabled():
            self.logger.info(
                "Raven is not configured (logging is disabled). "
                "Please see the documentation for more information."
            )
        if Raven is None:
            Raven = self
        if install_sys_hook:
            self.install_sys_hook()
        if install_logging_hook:
            self.install_logging_hook()
        self.hook_libraries(hook_libraries)

    # -- configuration

    def _format_repos(self, value: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for path, config in (value or {}).items():
            if not str(path).startswith("/"):
                module = sys.modules.get(path)
                file = getattr(module, "__file__", None)
                if file:
                    path = os.path.abspath(file)
            result[str(path)] = config
        return result

    def _load_processor(self, path: Any) -> Any:
        try:
            cls = _import_path(path) if isinstance(path, str) else path
            return cls(self)
        except Exception as exc:
            raise ConfigurationError(f"cannot load the event processor {path!r}: {exc}") from exc

    def set_dsn(self, dsn: Optional[str] = None, transport: Optional[type] = None) -> None:
        """Point the client at ``dsn`` (or ``SENTRY_DSN``); builds the transport and the delivery core."""
        if not dsn and os.environ.get("SENTRY_DSN"):
            self.logger.debug("Configuring Raven from environment variable 'SENTRY_DSN'")
            dsn = os.environ["SENTRY_DSN"]
        # Keyed as raven 6.10 kept it (by the DSN), with the transport when one is given.
        key: Any = dsn if transport is None else (dsn, transport)
        remote = self._transport_cache.get(key)
        if remote is None:
            if not dsn:
                remote = RemoteConfig(transport=transport)
            else:
                remote = RemoteConfig.from_string(dsn, transport=transport, transport_registry=self._registry)
            # Build the transport now: a bad option is an InvalidDsn at Client(), not at the first send.
            remote.get_transport()
            self._transport_cache[key] = remote
        self.remote = remote
        self._rebuild_delivery()
        self.logger.debug("Configuring Raven for host: %s", self.remote)

    def _rebuild_delivery(self) -> None:
        from raven._delivery.core import DeliveryCore

        old, old_spool = self._dispatcher, self._spool
        self._dispatcher = self._spool = None
        if old is not None:
            try:
                old.close(0)
            except Exception:
                pass
        elif old_spool is not None:
            old_spool.close(0)
        self._enabled = self.remote.is_active()
        self._core = None
        if self._enabled:
            dsn = self.remote.dsn
            assert dsn is not None  # an active remote has a DSN
            transport = self.remote.get_transport()
            options = _transport_options(transport, dsn)
            spooling = {k: v for k, v in self._spool_options.items() if k not in dsn.query}
            if spooling:
                options = options.with_values(**spooling)
            self._core = DeliveryCore(dsn, options, CLIENT_NAME)
            if self._hooks_overridden:
                self._core.on_settled = self._on_settled
            if options.spool_dir:
                from raven._runtime.spool import Spool

                self._spool = Spool(self._core, self._spool_transport)
                self._core.spool = self._spool
                self._spool.start()
        # The fast path: nothing overridden, and a transport that takes envelopes (one written
        # for raven 6.10 gets raven 6.10's own event instead).
        self._direct = self._overrides_none and self._core is not None and not self._core.options.raven_store

    def install_sys_hook(self) -> None:
        """Report uncaught exceptions (``sys.excepthook``), then call the previous hook."""
        current = sys.excepthook
        previous = (
            getattr(current, "raven_previous", None) if getattr(current, "raven_client", None) else current
        )
        if previous is None:
            previous = sys.__excepthook__

        def handle_exception(*exc_info: Any) -> None:
            try:
                if not issubclass(exc_info[0], KeyboardInterrupt):
                    self._capture_unhandled(exc_info)
            except Exception:
                pass
            previous(*exc_info)

        handle_exception.raven_client = self  # type: ignore[attr-defined]
        handle_exception.raven_previous = previous  # type: ignore[attr-defined]
        sys.excepthook = handle_exception

    def _capture_unhandled(self, exc_info: ExcInfo) -> None:
        self.capture(
            "raven.events.Exception", exc_info=exc_info, level="fatal", _mechanism=("excepthook", False)
        )
        # The interpreter is about to exit: give the queued event its chance now.
        self.flush(self._shutdown_timeout())

    def _shutdown_timeout(self) -> float:
        options = getattr(self._core, "options", None)
        return float(getattr(options, "shutdown_timeout", defaults.SHUTDOWN_TIMEOUT))

    def install_logging_hook(self) -> None:
        from raven.breadcrumbs import install_logging_hook

        install_logging_hook()

    def hook_libraries(self, libraries: Optional[Iterable[str]]) -> None:
        from raven.breadcrumbs import hook_libraries

        hook_libraries(libraries)

    @classmethod
    def register_scheme(cls, scheme: str, transport_class: type) -> None:
        """Make ``scheme://`` DSNs select ``transport_class`` (deprecated way; prefer ``transport=``)."""
        cls._registry.register_scheme(scheme, transport_class)

    def get_handler(self, name: str) -> Any:
        """An instance of the event class ``name`` (``'raven.events.Message'``; a bare class name
        means one of raven's), bound to this client, as raven 6.10 kept them."""
        path = name if "." in name else f"raven.events.{name}"
        return _import_path(path)(self)

    def get_processors(self) -> Iterator[Any]:
        yield from self._processor_instances

    def get_module_versions(self) -> dict[str, str]:
        return dict(self._modules)

    def get_ident(self, result: Any) -> Any:
        warnings.warn(
            "Client.get_ident is deprecated. The event ID is now returned as the result of capture.",
            DeprecationWarning,
            stacklevel=2,
        )
        return result

    def get_public_dsn(self, scheme: Optional[str] = None) -> Optional[str]:
        """The DSN without secret, for browser clients: ``//key@host/1``, or ``https://key@host/1``."""
        if not self.is_enabled():
            return None
        url = self.remote.get_public_dsn()
        if scheme and url:
            return f"{scheme}:{url}"
        return url

    def is_enabled(self) -> bool:
        """True when the client has a DSN and sends events (override it to switch capturing)."""
        return self._enabled

    # -- context

    @property
    def context(self) -> Context:
        """This client's context for the current thread (tags, extra, user, request, breadcrumbs)."""
        return self._context

    def user_context(self, data: Mapping[str, Any]) -> None:
        self.context.merge({"user": data})

    def http_context(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        self.context.merge({"request": data})

    def extra_context(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        self.context.merge({"extra": data})

    def tags_context(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        self.context.merge({"tags": data})

    def captureBreadcrumb(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        """Record a breadcrumb in this client's context; it goes out with the next event."""
        try:
            self.context.breadcrumbs.record(*args, **kwargs)
        except Exception:
            self.logger.debug("breadcrumb not recorded", exc_info=True)

    capture_breadcrumb = captureBreadcrumb

    @property
    def last_event_id(self) -> Optional[str]:
        return getattr(self._local_state, "last_event_id", None)

    @last_event_id.setter
    def last_event_id(self, value: Optional[str]) -> None:
        self._local_state.last_event_id = value

    # -- filters

    def should_capture(self, exc_info: ExcInfo) -> bool:
        """False when the exception matches ``ignore_exceptions`` (class, name, dotted name, ``mod.*``)."""
        exclusions = self.ignore_exceptions
        if not exclusions:
            return True
        exc_type = exc_info[0]
        name = getattr(exc_type, "__name__", "")
        dotted = f"{getattr(exc_type, '__module__', '')}.{name}"
        for rule in exclusions:
            if isinstance(rule, str):
                if rule in (name, dotted) or (rule.endswith("*") and dotted.startswith(rule[:-1])):
                    return False
            elif isinstance(rule, type):
                try:
                    if exc_type is rule or issubclass(exc_type, rule):
                        return False
                except TypeError:
                    continue
        return True

    def skip_error_for_logging(self, exc_info: ExcInfo) -> bool:
        """True if this very raise of the exception was already captured by this client."""
        seen = getattr(exc_info[1], "_raven_ng_seen", None)
        return isinstance(seen, _SeenMark) and seen.client_id == id(self) and seen.tb is exc_info[2]

    def record_exception_seen(self, exc_info: ExcInfo) -> None:
        # Marked on the exception itself (with its traceback, which differs on each raise): no
        # growing set of ids, no false match after an id is reused. The mark pickles as an empty
        # one: the exception still pickles (Celery sends a failed task's exception to its parent
        # process, multiprocessing its results) and a copy elsewhere counts as not seen.
        try:
            exc_info[1]._raven_ng_seen = _SeenMark(id(self), exc_info[2])
        except Exception:
            pass

    # -- capture

    def capture(
        self,
        event_type: str,
        data: Optional[Mapping[str, Any]] = None,
        date: Any = None,
        time_spent: Any = None,
        extra: Optional[Mapping[str, Any]] = None,
        stack: Any = None,
        tags: Optional[Mapping[str, Any]] = None,
        sample_rate: Optional[float] = None,
        **kwargs: Any,
    ) -> Optional[str]:
        """Build an event and send it; returns its id (32 hex digits), or None if not captured.

        ``event_type`` is ``'raven.events.Message'`` (``message=``, ``params=``, ``formatted=``),
        ``'raven.events.Exception'`` (``exc_info=``) or ``'raven.events.Query'`` (``query=``).
        ``data`` holds event fields (``request``, ``user``, ``logger``, ``level``, ``culprit`` ...);
        ``level``, ``logger``, ``culprit``, ``fingerprint`` and ``transaction`` may also be keywords.
        As in raven 6.10, ``is_enabled()`` is the switch and the event goes through ``build_msg``
        and ``send(**data)``, each of which a subclass may override.
        """
        if self._closed or not self.is_enabled():
            return None
        try:
            exc_info = kwargs.get("exc_info")
            if exc_info is not None or EVENT_KINDS.get(event_type) == "exception":
                exc_info = _as_exc_info(exc_info)
                if exc_info is None:
                    if EVENT_KINDS.get(event_type) == "exception":
                        self.logger.debug("captureException called with no exception being handled")
                        return None
                else:
                    if self.skip_error_for_logging(exc_info):
                        return None
                    if not self.should_capture(exc_info):
                        self.logger.info("Not capturing exception due to filters: %s", exc_info[0])
                        return None
                    self.record_exception_seen(exc_info)
                kwargs["exc_info"] = exc_info
            rate = self.sample_rate if sample_rate is None else float(sample_rate)
            if not self._random.random() < rate:
                event_id = new_event_id()
                self._record_lost(Reason.SAMPLE_RATE)
                self._local_state.last_event_id = event_id
                return event_id
            if self._direct:
                # Nothing overridden: the event goes from the processors straight to encoding.
                event = self._build_msg(event_type, data, date, time_spent, extra, stack, tags, kwargs, True)
            else:
                event = self.build_msg(event_type, data, date, time_spent, extra, stack, tags=tags, **kwargs)
            if event is None:
                return None
            event_id = event["event_id"]
        except Exception:
            _logs.errors.error("client:build", "Sentry: could not build an event", exc_info=True)
            return None
        if self._direct:
            if not self._closed:
                self._deliver(event, direct=True)
        else:
            self.send(**event)
        self._local_state.last_event_id = event_id
        return str(event_id)

    def build_msg(
        self,
        event_type: str,
        data: Optional[Mapping[str, Any]] = None,
        date: Any = None,
        time_spent: Any = None,
        extra: Optional[Mapping[str, Any]] = None,
        stack: Any = None,
        public_key: Any = None,
        tags: Optional[Mapping[str, Any]] = None,
        fingerprint: Any = None,
        **kwargs: Any,
    ) -> Optional[dict[str, Any]]:
        """The event ``capture`` sends, in raven 6.10's shape (:mod:`raven.events.build`), with
        the processors applied; None if a processor failed (the event is counted as lost)."""
        if fingerprint is not None:
            kwargs["fingerprint"] = fingerprint
        if "exc_info" in kwargs or EVENT_KINDS.get(event_type) == "exception":
            kwargs["exc_info"] = _as_exc_info(kwargs.get("exc_info"))
        return self._build_msg(event_type, data, date, time_spent, extra, stack, tags, kwargs, False)

    def _build_msg(
        self,
        event_type: str,
        data: Optional[Mapping[str, Any]],
        date: Any,
        time_spent: Any,
        extra: Optional[Mapping[str, Any]],
        stack: Any,
        tags: Optional[Mapping[str, Any]],
        kwargs: dict[str, Any],
        direct: bool,
    ) -> Optional[dict[str, Any]]:
        builder = self._builder
        event = builder.build(event_type, data, date, time_spent, extra, stack, tags, kwargs, direct)
        for processor in self._processor_instances:
            try:
                result = processor.process(event)
            except Exception:
                _logs.errors.error(
                    f"client:processor:{type(processor).__name__}",
                    "Sentry: the event processor %s failed; event dropped (counted as event_processor)",
                    type(processor).__name__,
                    exc_info=True,
                )
                self._record_lost(Reason.EVENT_PROCESSOR)
                return None
            # raven 6.10 merged what a processor returned, so a partial dict is fine.
            if isinstance(result, Mapping) and result is not event:
                event.update(result)
        builder.finish(event, kwargs, direct)
        return event

    def transform(self, data: Any) -> Any:
        """``data`` as raven 6.10's serializer gave it (strings, numbers and booleans as their
        repr, sequences as tuples), within this client's limits; the wire gets JSON types back
        (:mod:`raven.events.wire`)."""
        return _events.raven_form(data, self._settings)

    # -- sending: raven 6.10's chain, send -> encode -> send_encoded -> send_remote -> transport

    def send(self, auth_header: Any = None, **data: Any) -> None:
        """Hand an event (raven 6.10's dict) to delivery.

        With none of ``encode`` / ``send_encoded`` / ``send_remote`` overridden, the event is
        translated and serialized once and queued (the fast path); otherwise it goes through
        raven 6.10's chain, each step overridable.
        """
        if self._closed:
            return None
        if not self._plain_chain:
            message = self.encode(data)
            return self.send_encoded(message, auth_header=auth_header)
        self._deliver(data)
        return None

    def encode(self, data: Mapping[str, Any]) -> bytes:
        """raven 6.10's encoding: zlib-compressed JSON of the event."""
        return zlib.compress(_wire.dumps_raven(data))

    def decode(self, data: bytes) -> Any:
        """The event from :meth:`encode`'s bytes (plain JSON is read too)."""
        try:
            body = zlib.decompress(data)
        except zlib.error:
            body = data
        return json.loads(body)

    def get_content_encoding(self) -> str:
        """raven 6.10's ``Content-Encoding`` of :meth:`encode`'s bytes."""
        return "deflate"

    def send_encoded(self, message: bytes, auth_header: Any = None, **kwargs: Any) -> Any:
        """raven 6.10's step: sign an encoded event and pass it to :meth:`send_remote`."""
        if not auth_header:
            auth_header = self._auth_header()
        headers = {
            "User-Agent": CLIENT_NAME,
            "X-Sentry-Auth": auth_header,
            "Content-Encoding": self.get_content_encoding(),
            "Content-Type": "application/octet-stream",
        }
        return self.send_remote(url=self.remote.store_endpoint, data=message, headers=headers, **kwargs)

    def send_remote(self, url: Any, data: bytes, headers: Optional[Mapping[str, str]] = None) -> None:
        """raven 6.10's last step: here, the encoded event goes to delivery (its transport, rate
        limits, retries and accounting); ``_successful_send`` / ``_failed_send`` follow."""
        if self._closed:
            return None
        try:
            event = self.decode(data)
        except Exception:
            _logs.errors.error("client:decode", "Sentry: could not read an encoded event", exc_info=True)
            return None
        if isinstance(event, dict):
            self._deliver(event)
        return None

    def _deliver(self, event: dict[str, Any], direct: bool = False) -> None:
        """Translate ``event`` to Sentry's protocol, serialize it and queue it (``direct``: the
        fast path's own event, see ``EventBuilder.finish``).

        A transport written for raven 6.10 gets what raven 6.10 gave it instead: the JSON of the
        event as it is (``encode``'s, compressed by the core).
        """
        core = self._core
        if core is None:
            return
        try:
            event_id = event.get("event_id")
            if direct:
                # The builder's own event: its id is one of ours.
                item = EventItem(str(event_id), _wire.encode_wire(event, self._settings, True))
            elif core.options.raven_store:
                item_id = event_id if is_event_id(event_id) else new_event_id()
                item = EventItem(str(item_id), _wire.dumps_raven(event))
            else:
                if not is_event_id(event_id):
                    event["event_id"] = event_id = new_event_id()
                item = EventItem(str(event_id), _wire.encode_wire(event, self._settings, direct))
        except Exception:
            _logs.errors.error("client:encode", "Sentry: could not serialize an event", exc_info=True)
            return
        self._submit(item)

    def _successful_send(self) -> None:
        """Called after an event was delivered (raven 6.10's hook; ``client.state`` already
        knows, from the delivery core)."""

    def _failed_send(self, exc: BaseException, url: Any, data: Any) -> None:
        """Called after an event was lost (raven 6.10's hook): ``exc`` says why (``APIError`` /
        ``RateLimited`` for a status, ``ConnectionError`` with no HTTP answer), ``data`` is the
        event as it was sent. Delivery already logged it (rate-limited) and ``client.state``
        already knows."""

    def _auth_header(self) -> str:
        from raven._delivery.envelope import auth_header

        return auth_header(str(self.remote.public_key), self.remote.secret_key, CLIENT_NAME)

    def _on_settled(self, request: Any, decision: Any) -> None:
        """The core decided an event's fate: call the overridden raven 6.10 hooks."""
        if isinstance(decision, Sent):
            self._successful_send()
            return
        try:
            data = json.loads(request.item.payload)
        except Exception:
            data = {}
        self._failed_send(_hook_exception(decision, self._core), request.url, data)

    def _submit(self, item: EventItem) -> None:
        if self.raise_send_errors:
            dispatcher = self._dispatcher or self._open_dispatcher()
            if dispatcher is not None:
                dispatcher.submit(item)
            return
        try:
            dispatcher = self._dispatcher or self._open_dispatcher()
            if dispatcher is not None:
                dispatcher.submit(item)
        except Exception:
            _logs.errors.error(
                "client:submit", "Sentry: the transport failed to take an event", exc_info=True
            )

    def _open_dispatcher(self) -> Any:
        """The dispatcher, opened on the first event (so no thread starts before one is needed)."""
        with self._dispatch_lock:
            if self._dispatcher is None and not self._closed:
                from raven._runtime.dispatchers import open_dispatcher

                dispatcher = open_dispatcher(
                    self.remote.get_transport(), self._core, raise_send_errors=self.raise_send_errors
                )
                if self._spool is not None:
                    from raven._runtime.spool import SpooledDispatcher

                    dispatcher = SpooledDispatcher(self._spool, dispatcher)
                self._dispatcher = dispatcher
            return self._dispatcher

    def _spool_transport(self) -> Any:
        """The transport's own dispatcher, for the spool to hand its files to (None once closed)."""
        dispatcher = self._dispatcher or self._open_dispatcher()
        return getattr(dispatcher, "inner", None)

    def _record_lost(self, reason: Reason) -> None:
        core = self._core
        if core is not None:
            try:
                core.record_lost(reason, ERROR)
            except Exception:
                pass

    def flush(self, timeout: Optional[float] = None) -> Any:
        """Wait until every captured event is sent or counted lost; False if ``timeout`` ran out.

        On an event loop's own thread the loop transports cannot block: there the result is the
        loop's idiom (a Deferred for Twisted, an awaitable for asyncio and Tornado), passed through.
        """
        dispatcher = self._dispatcher
        if dispatcher is None:
            return True
        try:
            result = dispatcher.flush(timeout)
            on_loop = loop_idiom(result)
            return result if on_loop and not isinstance(result, bool) else bool(result)
        except Exception:
            _logs.errors.error("client:flush", "Sentry: flush failed", exc_info=True)
            return False

    async def aflush(self, timeout: Optional[float] = None) -> bool:
        """``flush`` for code running on the transport's asyncio loop (asyncio, Tornado)."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            return True
        flush_async = getattr(dispatcher, "flush_async", None)
        if flush_async is None:
            return bool(self.flush(timeout))
        return bool(await flush_async(timeout))

    async def aclose(self, timeout: Optional[float] = None) -> None:
        """``close`` for code running on the transport's asyncio loop (asyncio, Tornado)."""
        dispatcher = self._dispatcher
        close_async = getattr(dispatcher, "close_async", None)
        if close_async is None:
            self.close(timeout)
            return
        with self._dispatch_lock:
            self._closed = True
        await close_async(timeout)

    def close(self, timeout: Optional[float] = None) -> Any:
        """Deliver what is queued (waiting at most ``timeout``) and stop; later captures do nothing.

        When it returns, every captured event is sent or counted lost (``delivery_stats()``). On an
        event loop's own thread the loop transports cannot block: there the result is the loop's
        idiom, passed through (a Deferred for Twisted, a Task for asyncio and Tornado).
        """
        with self._dispatch_lock:
            self._closed = True
            dispatcher = self._dispatcher
        if dispatcher is None:
            if self._spool is not None:
                self._spool.close(self._shutdown_timeout() if timeout is None else float(timeout))
            return None
        try:
            result = dispatcher.close(timeout)
            on_loop = loop_idiom(result)
            return result if on_loop else None
        except Exception:
            _logs.errors.error("client:close", "Sentry: close failed", exc_info=True)
            return None

    def delivery_stats(self) -> Mapping[str, Any]:
        """What happened to the events: ``{"sent": n, "lost": {"reason:category": n}, ...}``."""
        core = self._core
        if core is None:
            return {"sent": 0, "lost": {}}
        return core.stats()

    # -- shortcuts

    def captureMessage(self, message: Any, **kwargs: Any) -> Optional[str]:  # noqa: N802
        """Send ``message`` as an event. ``params=`` are %-formatted into it, as logging does.

        >>> client.captureMessage('My event just happened!')
        """
        return self.capture("raven.events.Message", message=message, **kwargs)

    def captureException(self, exc_info: Any = None, **kwargs: Any) -> Optional[str]:  # noqa: N802
        """Send the exception being handled (or ``exc_info``: a tuple or an exception) as an event."""
        if exc_info is None or exc_info is True:
            exc_info = sys.exc_info()
        return self.capture("raven.events.Exception", exc_info=exc_info, **kwargs)

    def captureQuery(self, query: Any, params: Any = (), engine: Any = None, **kwargs: Any) -> Optional[str]:  # noqa: N802
        """Send a SQL query as an event (its ``engine`` becomes the ``db.engine`` tag)."""
        return self.capture("raven.events.Query", query=query, params=params, engine=engine, **kwargs)

    def capture_exceptions(
        self, function_or_exceptions: Any = None, **kwargs: Any
    ) -> Union[Callable[..., Any], contextlib.AbstractContextManager[None]]:
        """Capture (and re-raise) exceptions of a function or a block.

        >>> @client.capture_exceptions
        ... def foo(): ...
        >>> with client.capture_exceptions((IOError, LookupError)):
        ...     ...
        """
        function = None
        exceptions: Any = (Exception,)
        if isinstance(function_or_exceptions, FunctionType):
            function = function_or_exceptions
        elif function_or_exceptions is not None:
            exceptions = function_or_exceptions

        @contextlib.contextmanager
        def make_decorator(exceptions: Any) -> Iterator[None]:
            try:
                yield
            except exceptions:
                self.captureException(**kwargs)
                raise

        decorator = make_decorator(exceptions)
        if function is not None:
            return decorator(function)
        return decorator

    def captureExceptions(self, **kwargs: Any) -> Any:  # noqa: N802
        warnings.warn(
            "captureExceptions is deprecated, used context() instead.", DeprecationWarning, stacklevel=2
        )
        return self.context


class DummyClient(Client):
    """Sends messages into an empty void."""

    def send(self, auth_header: Any = None, **data: Any) -> None:
        return None


_KNOWN_OPTIONS = (
    frozenset(
        {
            "include_paths",
            "exclude_paths",
            "name",
            "machine",
            "auto_log_stacks",
            "capture_locals",
            "string_max_length",
            "list_max_length",
            "site",
            "include_versions",
            "processors",
            "sanitize_keys",
            "context",
            "tags",
            "environment",
            "release",
            "repos",
            "sample_rate",
            "ignore_exceptions",
        }
    )
    | SPOOL_OPTIONS
)  # the durable spool (raven._runtime.spool); the DSN's own values win


def _spool_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The spool options given to ``Client()``, validated (a bad one is an ``InvalidDsn``)."""
    from raven._delivery.dsn import TransportOptions

    given = {k: v for k, v in options.items() if k in SPOOL_OPTIONS and v is not None}
    if not given:
        return {}
    parsed = TransportOptions.parse(given, SPOOL_OPTIONS)
    return {k: getattr(parsed, k) for k in given}


def _hook_exception(decision: Any, core: Any) -> BaseException:
    """The exception raven 6.10's ``_failed_send`` received, for a core decision."""

    message = decision.log or f"event dropped ({decision.reason.value})"
    status = getattr(decision, "status", None)
    if status == 429:
        return RateLimited(message, core.limited_for("error", time.monotonic()) if core else 0)
    if status is not None:
        return APIError(message, status)
    return ConnectionError(message)


def _positive_int(name: str, value: Any, default: int) -> int:
    if value is None or value == 0 or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"invalid {name} {value!r}; expected a whole number > 0") from None
    if number <= 0:
        raise ConfigurationError(f"invalid {name} {value!r}; expected a whole number > 0")
    return number


def _sample_rate(value: Any) -> float:
    if value is None:
        return 1.0
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"invalid sample_rate {value!r}; expected a number from 0 to 1") from None
    if isinstance(value, bool) or not 0.0 <= rate <= 1.0:
        raise ConfigurationError(f"invalid sample_rate {value!r}; expected a number from 0 to 1")
    return rate


def _transport_options(transport: Any, dsn: Any) -> Any:
    """The validated transport options the delivery core works with."""
    from raven._delivery.dsn import OPTION_NAMES, TransportOptions

    options = getattr(transport, "options", None)
    if not isinstance(options, TransportOptions):
        # A user's raven 6.10 transport took the DSN options itself; the core only needs the
        # shared ones.
        known = {k: v for k, v in dsn.query.items() if k in OPTION_NAMES}
        try:
            options = TransportOptions.parse(known, OPTION_NAMES)
        except Exception:
            options = TransportOptions()
    if not getattr(transport, "accepts_envelopes", False) and dsn.query.get("protocol") != "envelope":
        # Written for raven 6.10: it gets the store request raven 6.10 gave it.
        options = options.with_values(protocol="store", raven_store=True)
    return options
