"""DSN parsing and transport options: parsed once, into immutable values.

A DSN is ``{scheme}://{public_key}[:{secret}]@{host}[:{port}]{path}/{project_id}[?options]``.
The querystring carries transport options (``timeout``, ``verify_ssl``, ``ca_certs`` ...). Every
option a transport does not accept, and every malformed value, is an :class:`InvalidDsn` that
names the option and the values it takes, raised when the client is built, never at the first send.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, quote, urlsplit

from raven._delivery.spool import SpoolLimits
from raven.exceptions import InvalidDsn

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _parse_float(low: float, high: float, *, low_open: bool) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(value)  # type: ignore[arg-type]
        if number != number or not (low < number if low_open else low <= number) or number > high:
            raise ValueError(value)
        return number

    return parse


def _parse_int(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        number = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
        if not low <= number <= high:
            raise ValueError(value)
        return number

    return parse


def _parse_path(value: object) -> Optional[str]:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if text == "":
        return None
    if not os.path.isfile(text):
        raise ValueError(f"no such file: {text!r}")
    return text


def _parse_dir(value: object) -> Optional[str]:
    """A directory path (created when missing); empty means none."""
    if value is None:
        return None
    text = os.path.expanduser(str(value).strip())
    if "\x00" in text:
        raise ValueError("a path cannot contain NUL")
    return text or None


def _parse_protocol(value: object) -> str:
    text = str(value).strip().lower()
    if text not in ("envelope", "store"):
        raise ValueError(value)
    return text


@dataclass(frozen=True)
class OptionSpec:
    """How one transport option is read: its parser and what to tell a user who got it wrong."""

    name: str
    parse: Callable[[object], Any]
    accepted: str


_SPECS: dict[str, OptionSpec] = {
    spec.name: spec
    for spec in (
        OptionSpec("timeout", _parse_float(0, 3600, low_open=True), "seconds, a number > 0 such as 1 or 1.5"),
        OptionSpec("verify_ssl", _parse_bool, "1/0, true/false, yes/no, on/off"),
        OptionSpec("ca_certs", _parse_path, "the path of an existing PEM bundle"),
        OptionSpec("protocol", _parse_protocol, "envelope or store"),
        OptionSpec("shutdown_timeout", _parse_float(0, 3600, low_open=False), "seconds, a number >= 0"),
        OptionSpec("queue_size", _parse_int(1, 10_000_000), "a whole number of events >= 1"),
        OptionSpec("queue_bytes", _parse_int(1024, 2**40), "a whole number of bytes >= 1024"),
        OptionSpec("max_connections", _parse_int(1, 32), "a whole number from 1 to 32"),
        OptionSpec("maximum_outstanding_requests", _parse_int(1, 100_000), "a whole number >= 1"),
        OptionSpec("spool_dir", _parse_dir, "a directory path"),
        OptionSpec("spool_max_bytes", _parse_int(64 * 1024, 2**44), "a whole number of bytes >= 65536"),
        OptionSpec("spool_max_files", _parse_int(1, 10_000_000), "a whole number of files >= 1"),
        OptionSpec(
            "spool_max_age", _parse_float(0, 90 * 24 * 3600, low_open=True), "seconds, > 0, at most 90 days"
        ),
        OptionSpec("spool_fsync", _parse_bool, "1/0, true/false, yes/no, on/off"),
    )
}

#: The durable spool's options, which every transport accepts (the spool is the client's).
SPOOL_OPTIONS: frozenset[str] = frozenset(
    {"spool_dir", "spool_max_bytes", "spool_max_files", "spool_max_age", "spool_fsync"}
)
#: Options every built-in transport accepts.
COMMON_OPTIONS: frozenset[str] = (
    frozenset({"timeout", "verify_ssl", "ca_certs", "protocol", "shutdown_timeout"}) | SPOOL_OPTIONS
)
#: Options of the transports that queue events for a background worker.
QUEUE_OPTIONS: frozenset[str] = COMMON_OPTIONS | {"queue_size", "queue_bytes", "max_connections"}


@dataclass(frozen=True)
class TransportOptions:
    """Transport settings, validated. ``ca_certs=None`` means certifi's bundle."""

    timeout: float = 1.0
    verify_ssl: bool = True
    ca_certs: Optional[str] = None
    protocol: str = "envelope"
    shutdown_timeout: float = 2.0
    queue_size: int = 10_000
    queue_bytes: int = 16 * 1024 * 1024
    max_connections: int = 4
    maximum_outstanding_requests: int = 100
    #: The durable spool (``raven._runtime.spool``): its directory (None: no spool) and bounds.
    spool_dir: Optional[str] = None
    spool_max_bytes: int = SpoolLimits.max_bytes
    spool_max_files: int = SpoolLimits.max_files
    spool_max_age: float = SpoolLimits.max_age
    spool_fsync: bool = SpoolLimits.fsync
    #: Not a DSN option: store requests as raven 6.10 made them, for a transport written for
    #: raven 6.10 that did not declare ``accepts_envelopes`` (set by the client).
    raven_store: bool = False

    @classmethod
    def parse(
        cls, values: Mapping[str, object], accepted: Collection[str] = COMMON_OPTIONS
    ) -> TransportOptions:
        """Validate ``values`` (strings from a querystring, or typed values) against ``accepted``."""
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in accepted or name not in _SPECS:
                known = ", ".join(sorted(n for n in accepted if n in _SPECS))
                raise InvalidDsn(f"unknown transport option {name!r}; this transport accepts: {known}")
            spec = _SPECS[name]
            if raw is None and name == "ca_certs":
                parsed[name] = None
                continue
            try:
                parsed[name] = spec.parse(raw)
            except (TypeError, ValueError, OverflowError) as exc:
                detail = (
                    f" ({exc.args[0]})"
                    if exc.args and isinstance(exc.args[0], str) and name == "ca_certs"
                    else ""
                )
                raise InvalidDsn(
                    f"invalid value {raw!r} for transport option {name!r}{detail}; expected {spec.accepted}"
                ) from None
        return cls(**parsed)

    def with_values(self, **values: Any) -> TransportOptions:
        return replace(self, **values)

    def queue_has_room(self, queued: int, queued_bytes: int, size: int) -> bool:
        """The queue bound: ``queue_size`` events and ``queue_bytes`` bytes, whichever comes first.

        An empty queue always takes the event, even one larger than ``queue_bytes``.
        """
        if not queued:
            return True
        return queued < self.queue_size and queued_bytes + size <= self.queue_bytes

    def spool_limits(self) -> SpoolLimits:
        return SpoolLimits(self.spool_max_bytes, self.spool_max_files, self.spool_max_age, self.spool_fsync)

    def ca_bundle(self) -> str:
        """The CA bundle to verify against: ``ca_certs`` or certifi's."""
        if self.ca_certs:
            return self.ca_certs
        import certifi

        return str(certifi.where())


OPTION_NAMES = frozenset(f.name for f in fields(TransportOptions))


@dataclass(frozen=True)
class Dsn:
    """A parsed DSN. ``path`` is the prefix before the project id, without a trailing slash."""

    scheme: str
    public_key: str
    secret_key: Optional[str]
    host: str
    port: Optional[int]
    path: str
    project_id: str
    query: Mapping[str, str] = field(default_factory=dict)
    #: The scheme as written, when it selected a transport (``threaded+https``); else None.
    transport_scheme: Optional[str] = None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def envelope_url(self) -> str:
        return f"{self.base_url}/api/{self.project_id}/envelope/"

    @property
    def store_url(self) -> str:
        return f"{self.base_url}/api/{self.project_id}/store/"

    def public_dsn(self) -> str:
        """The DSN without scheme, secret and options, as raven's ``get_public_dsn`` gave it."""
        return f"//{self.public_key}@{self.netloc}{self.path}/{self.project_id}"

    def without_secret(self) -> str:
        """The DSN a server may see in an envelope header: no secret, no options."""
        return f"{self.scheme}:{self.public_dsn()}"

    @classmethod
    def parse(cls, value: str) -> Dsn:
        if not isinstance(value, str):
            raise InvalidDsn(f"the DSN must be a string, not {type(value).__name__}")
        text = value.strip()
        try:
            url = urlsplit(text)
            port = url.port
        except ValueError as exc:
            raise InvalidDsn(f"invalid Sentry DSN {redact(text)!r}: {exc}") from None
        scheme = url.scheme.lower()
        base_scheme = scheme.rsplit("+", 1)[-1]
        if base_scheme not in ("http", "https"):
            raise InvalidDsn(f"invalid Sentry DSN {redact(text)!r}: the scheme must end in http or https")
        if not url.hostname:
            raise InvalidDsn(f"invalid Sentry DSN {redact(text)!r}: no host")
        if not url.username:
            raise InvalidDsn(f"invalid Sentry DSN {redact(text)!r}: no public key before the '@'")
        prefix, _, project = url.path.rstrip("/").rpartition("/")
        if not project:
            raise InvalidDsn(f"invalid Sentry DSN {redact(text)!r}: no project id at the end of the path")
        try:
            query = dict(parse_qsl(url.query, keep_blank_values=True, strict_parsing=bool(url.query)))
        except ValueError:
            raise InvalidDsn(
                f"invalid Sentry DSN {redact(text)!r}: malformed querystring {url.query!r}"
            ) from None
        return cls(
            scheme=base_scheme,
            public_key=url.username,
            secret_key=url.password or None,
            host=url.hostname,
            port=port,
            path=quote(prefix, safe="/%"),
            project_id=project,
            query=query,
            transport_scheme=scheme if scheme != base_scheme else None,
        )


def redact(text: str) -> str:
    """The DSN with its secret hidden, for error messages."""
    try:
        url = urlsplit(text)
        if url.password:
            return text.replace(":" + url.password + "@", ":***@", 1)
    except ValueError:
        pass
    return text
