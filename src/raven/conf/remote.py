"""Where events go: the DSN's parts and the transport, as raven 6.10's ``RemoteConfig``.

The DSN is parsed once (:class:`raven._delivery.dsn.Dsn`); a malformed one is an ``InvalidDsn``.
A transport-selecting scheme (``threaded+https://``) still works, with raven's deprecation warning.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote, urlencode, urlsplit

from raven._delivery.dsn import Dsn, redact
from raven.exceptions import InvalidDsn

if TYPE_CHECKING:
    from raven.transport.registry import TransportRegistry

__all__ = ("RemoteConfig", "discover_default_transport", "ERR_UNKNOWN_SCHEME")

ERR_UNKNOWN_SCHEME = "Unsupported Sentry DSN scheme: {0} ({1})"
DEPRECATED_SCHEME = (
    "Transport selection via DSN is deprecated. "
    "You should explicitly pass the transport class to Client() instead."
)

logger = logging.getLogger("raven")


def discover_default_transport() -> type:
    """The transport of a plain ``http(s)://`` DSN: threaded, except where threads are frozen.

    On AWS Lambda and Google App Engine a background thread does not run between requests, so
    events are sent synchronously there (as raven 6.10 did).
    """
    if "LAMBDA_TASK_ROOT" in os.environ or (
        "CURRENT_VERSION_ID" in os.environ and "INSTANCE_ID" in os.environ
    ):
        from raven.transport.http import HTTPTransport

        logger.info("Detected a serverless environment: using the synchronous HTTP transport.")
        return HTTPTransport
    from raven.transport.threaded import ThreadedHTTPTransport

    return ThreadedHTTPTransport


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside the raven package."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name == "raven" or name.startswith("raven.")):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class RemoteConfig:
    """The parts of a DSN and the transport that sends to it.

    ``options`` are the DSN's querystring options (strings), given to the transport.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        project: Optional[str] = None,
        public_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        transport: Optional[type] = None,
        options: Optional[Mapping[str, Any]] = None,
        dsn: Optional[Dsn] = None,
    ) -> None:
        if base_url:
            base_url = base_url.rstrip("/")
            store_endpoint: Optional[str] = f"{base_url}/api/{project}/store/"
        else:
            store_endpoint = None
        self.base_url = base_url
        self.project = project
        self.public_key = public_key
        self.secret_key = secret_key
        self.options: dict[str, Any] = dict(options or {})
        self.store_endpoint = store_endpoint
        self._transport_cls = transport
        self._dsn = dsn
        self._transport: Any = None

    def __str__(self) -> str:
        return str(self.base_url)

    def __repr__(self) -> str:
        return f"<RemoteConfig {self.base_url!r} project={self.project!r}>"

    @property
    def transport_cls(self) -> Optional[type]:
        return self._transport_cls

    @property
    def dsn(self) -> Optional[Dsn]:
        """The parsed DSN (built from the parts when this config was made field by field)."""
        if self._dsn is None and self.is_active():
            split = urlsplit(str(self.base_url))
            userinfo = quote(str(self.public_key), safe="")
            if self.secret_key:
                userinfo += ":" + quote(str(self.secret_key), safe="")
            query = f"?{urlencode(self.options)}" if self.options else ""
            self._dsn = Dsn.parse(
                f"{split.scheme}://{userinfo}@{split.netloc}{split.path}/{self.project}{query}"
            )
        return self._dsn

    def is_active(self) -> bool:
        return bool(self.base_url and self.project and self.public_key)

    def get_transport(self) -> Any:
        """The transport instance (made once); None when there is no DSN.

        Unknown or malformed DSN options raise ``InvalidDsn`` here, naming the option.
        """
        if not self.store_endpoint:
            return None
        if self._transport is None:
            from raven.transport.registry import make_transport

            dsn = self.dsn
            assert dsn is not None
            if self._transport_cls is None:
                self._transport_cls = discover_default_transport()
            self._transport = make_transport(self._transport_cls, dsn)
        return self._transport

    def get_public_dsn(self) -> Optional[str]:
        """``//public_key@host[:port][/path]/project``: the DSN a browser client may see."""
        if not self.is_active():
            return None
        split = urlsplit(str(self.base_url))
        netloc = split.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if split.port:
            netloc += f":{split.port}"
        return f"//{self.public_key}@{netloc}{split.path}/{self.project}"

    @classmethod
    def from_string(
        cls,
        value: str,
        transport: Optional[type] = None,
        transport_registry: Optional[TransportRegistry] = None,
    ) -> RemoteConfig:
        """Parse a DSN. A ``scheme+http(s)://`` prefix selects a registered transport (deprecated)."""
        text = value.strip() if isinstance(value, str) else value
        scheme = text.partition("://")[0].lower() if isinstance(text, str) and "://" in text else ""
        if scheme and scheme.rsplit("+", 1)[-1] not in ("http", "https"):
            # raven 6.10 allowed a registered scheme of any name (``mock://`` in many test suites):
            # such a DSN is read as plain http for the transport that scheme selects.
            registry = transport_registry if transport_registry is not None else _default_registry()
            if registry.supported_scheme(scheme):
                dsn = replace(Dsn.parse(f"http{text[len(scheme) :]}"), transport_scheme=scheme)
            elif transport is not None:
                # A transport of its own with a scheme of its own (``fluentd://`` with
                # ``transport=FluentdTransport``): raven 6.10 took it, URLs and all.
                dsn = replace(Dsn.parse(f"http{text[len(scheme) :]}"), scheme=scheme)
            else:
                raise InvalidDsn(ERR_UNKNOWN_SCHEME.format(scheme, redact(text)))
        else:
            dsn = Dsn.parse(text)
        if dsn.transport_scheme is not None:
            warnings.warn(DEPRECATED_SCHEME, DeprecationWarning, stacklevel=_caller_stacklevel())
            if transport is None:
                registry = transport_registry if transport_registry is not None else _default_registry()
                if not registry.supported_scheme(dsn.transport_scheme):
                    raise InvalidDsn(ERR_UNKNOWN_SCHEME.format(dsn.transport_scheme, redact(text)))
                transport = registry.get_transport_cls(dsn.transport_scheme)
        return cls(
            base_url=dsn.base_url,
            project=dsn.project_id,
            public_key=dsn.public_key,
            secret_key=dsn.secret_key,
            options=dict(dsn.query),
            transport=transport,
            dsn=dsn,
        )


def _default_registry() -> TransportRegistry:
    from raven.transport.registry import TransportRegistry, default_transports

    return TransportRegistry(default_transports)


def __getattr__(name: str) -> Any:
    # raven 6.10 exposed the default transport class; resolving it imports the transports.
    if name == "DEFAULT_TRANSPORT":
        return discover_default_transport()
    raise AttributeError(name)
