"""Which transport a DSN scheme selects (raven 6.10's ``TransportRegistry``), and how a transport is built.

The transports that need an optional library (requests, gevent, eventlet, tornado, twisted,
aiohttp) are registered by name and imported only when their scheme is used, so importing
``raven`` never imports those libraries. raven 6.10 also made every transport class importable
from here (``from raven.transport.registry import GeventedHTTPTransport``): those names still
work, the optional ones resolving on first use (through :mod:`raven.transport`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from raven._delivery.dsn import SPOOL_OPTIONS, Dsn
from raven.exceptions import ConfigurationError, InvalidDsn
from raven.transport.http import HTTPTransport
from raven.transport.threaded import ThreadedHTTPTransport
from raven.utils import urlparse  # noqa: F401  (raven 6.10 name of this module)

__all__ = (
    "DuplicateScheme",
    "InvalidScheme",
    "LazyTransport",
    "TransportRegistry",
    "default_transports",
    "make_transport",
)


class InvalidScheme(ValueError):
    """A transport was built for a URI scheme it does not handle."""


class DuplicateScheme(Exception):
    """A scheme was registered twice."""


class LazyTransport:
    """A transport class known by import path; imported the first time its scheme is used."""

    def __init__(self, module: str, name: str, scheme: Iterable[str]) -> None:
        self.module = module
        self.name = name
        self.scheme = list(scheme)

    def resolve(self) -> type:
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise ConfigurationError(
                f"the transport {self.module}.{self.name} cannot be imported: {exc}"
            ) from exc
        cls: type = getattr(module, self.name)
        return cls

    def __repr__(self) -> str:
        return f"<LazyTransport {self.module}.{self.name}>"


TransportRef = Union[type, LazyTransport]


class TransportRegistry:
    """Maps DSN schemes (``threaded+https``, ``requests+http`` ...) to transport classes."""

    def __init__(self, transports: Optional[Iterable[TransportRef]] = None) -> None:
        self._schemes: dict[str, TransportRef] = {}
        self._transports: dict[str, Any] = {}
        for transport in transports or ():
            self.register_transport(transport)

    def register_transport(self, transport: TransportRef) -> None:
        scheme = getattr(transport, "scheme", None)
        if scheme is None or isinstance(scheme, str) or not hasattr(scheme, "__iter__"):
            raise AttributeError(
                f"Transport {getattr(transport, '__name__', transport)!r} must have a scheme list"
            )
        for name in scheme:
            self.register_scheme(name, transport)

    def register_scheme(self, scheme: str, cls: TransportRef) -> None:
        """Make ``scheme`` select ``cls`` (raises DuplicateScheme if taken)."""
        if scheme in self._schemes:
            raise DuplicateScheme(scheme)
        self._schemes[scheme] = cls

    def supported_scheme(self, scheme: str) -> bool:
        return scheme in self._schemes

    def get_transport_cls(self, scheme: str) -> type:
        """The class for ``scheme`` (KeyError if unknown), importing a lazily registered one."""
        entry = self._schemes[scheme]
        if isinstance(entry, LazyTransport):
            entry = self._schemes[scheme] = entry.resolve()
        return entry

    def get_transport(self, parsed_url: Any, **options: Any) -> Any:
        """raven 6.10's way to get a transport instance for a parsed URL, cached per URL."""
        full_url = parsed_url.geturl() if hasattr(parsed_url, "geturl") else str(parsed_url)
        if full_url not in self._transports:
            scheme = full_url.split("://", 1)[0]
            cls = self.get_transport_cls(scheme)
            self._transports[full_url] = cls(**options)
        return self._transports[full_url]


#: raven 6.10's names of this module whose import needs an optional library.
_OPTIONAL_TRANSPORTS = frozenset(
    {
        "EventletHTTPTransport",
        "GeventedHTTPTransport",
        "RequestsHTTPTransport",
        "ThreadedRequestsHTTPTransport",
        "TornadoHTTPTransport",
        "TwistedHTTPTransport",
        "AsyncioHTTPTransport",
    }
)


def __getattr__(name: str) -> Any:
    if name in _OPTIONAL_TRANSPORTS:
        import raven.transport

        return getattr(raven.transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lazy(module: str, name: str, *scheme: str) -> LazyTransport:
    return LazyTransport(f"raven.transport.{module}", name, scheme)


#: The transports a Client knows by scheme, in raven 6.10's order.
default_transports: list[TransportRef] = [
    HTTPTransport,
    ThreadedHTTPTransport,
    _lazy("gevent", "GeventedHTTPTransport", "gevent+http", "gevent+https"),
    _lazy("twisted", "TwistedHTTPTransport", "twisted+http", "twisted+https"),
    _lazy("requests", "RequestsHTTPTransport", "requests+http", "requests+https"),
    _lazy(
        "threaded_requests",
        "ThreadedRequestsHTTPTransport",
        "threaded+requests+http",
        "threaded+requests+https",
    ),
    _lazy("tornado", "TornadoHTTPTransport", "tornado+http", "tornado+https"),
    _lazy("eventlet", "EventletHTTPTransport", "eventlet+http", "eventlet+https"),
    _lazy("asyncio", "AsyncioHTTPTransport", "asyncio+http", "asyncio+https"),
]


def _check_option_names(transport_cls: type, options: Mapping[str, Any]) -> None:
    """InvalidDsn if ``transport_cls.__init__`` cannot take one of the DSN's options by name."""
    try:
        signature = inspect.signature(transport_cls)
    except (TypeError, ValueError):
        return  # no signature to check against: let the call decide
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for option in options:
        if option not in names:
            accepted = ", ".join(sorted(names)) or "none"
            raise InvalidDsn(
                f"unknown transport option {option!r} for {transport_cls.__name__}; it accepts: {accepted}"
            )


def make_transport(transport_cls: type, dsn: Dsn) -> Any:
    """Build the transport for ``dsn``: its querystring options become keyword arguments.

    Built-in transports validate them (``accepted_options``); a raven 6.10-style user class gets
    them as raw strings, as 6.10 gave them, after checking that its ``__init__`` takes each name.
    Either way a bad option is an InvalidDsn now, naming it, never an error at the first send.
    """
    options = dict(dsn.query)
    if not _validates_itself(transport_cls):
        # ``protocol`` and the spool's options are the client's to read (raven 6.10 had no such
        # options to pass on).
        for name in ("protocol", *SPOOL_OPTIONS):
            options.pop(name, None)
        _check_option_names(transport_cls, options)
    try:
        return transport_cls(**options)
    except ConfigurationError:
        raise
    except (TypeError, ValueError) as exc:
        given = ", ".join(sorted(options)) or "none"
        raise InvalidDsn(
            f"the transport {transport_cls.__name__} rejected the DSN options ({given}): {exc}"
        ) from exc


def _validates_itself(transport_cls: type) -> bool:
    """True if the class's ``__init__`` is one of ours, which validate options (``accepted_options``)."""
    init = getattr(transport_cls, "__init__", None)
    module = getattr(init, "__module__", None) or ""
    return hasattr(transport_cls, "accepted_options") and module.startswith("raven.transport.")
