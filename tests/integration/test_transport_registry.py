"""The transport registry (raven 6.10's API), building transports from a DSN, lazy optional imports."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from raven._delivery.dsn import Dsn
from raven.exceptions import ConfigurationError, InvalidDsn
from raven.transport import HTTPTransport, ThreadedHTTPTransport, Transport
from raven.transport.registry import (
    DuplicateScheme,
    LazyTransport,
    TransportRegistry,
    default_transports,
    make_transport,
)

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
DSN = "https://public@sentry.example.com/1"


def test_default_schemes() -> None:
    registry = TransportRegistry(default_transports)
    assert registry.get_transport_cls("https") is ThreadedHTTPTransport
    assert registry.get_transport_cls("threaded+http") is ThreadedHTTPTransport
    assert registry.get_transport_cls("sync+https") is HTTPTransport
    for scheme in ("requests+https", "gevent+http", "eventlet+https", "tornado+http", "twisted+https"):
        assert registry.supported_scheme(scheme)
    assert not registry.supported_scheme("ftp")
    with pytest.raises(KeyError):
        registry.get_transport_cls("ftp")


def test_register_scheme() -> None:
    class Mine(Transport):
        scheme = ["mine+https"]

    registry = TransportRegistry(default_transports)
    registry.register_transport(Mine)
    assert registry.get_transport_cls("mine+https") is Mine
    with pytest.raises(DuplicateScheme):
        registry.register_scheme("mine+https", Mine)
    with pytest.raises(AttributeError):
        registry.register_transport(object)


def test_lazy_transport_missing_module_is_configuration_error() -> None:
    registry = TransportRegistry([LazyTransport("raven.transport.no_such_module", "X", ["nope+http"])])
    assert registry.supported_scheme("nope+http")
    with pytest.raises(ConfigurationError, match="no_such_module"):
        registry.get_transport_cls("nope+http")


def test_import_raven_imports_no_optional_library() -> None:
    code = (
        f"import sys; sys.path.insert(0, {SRC!r}); import raven, raven.transport, raven.transport.registry; "
        "from raven.transport import *; "
        "libs = ('requests', 'gevent', 'eventlet', 'tornado', 'twisted', 'aiohttp'); "
        "bad = [m for m in libs if m in sys.modules]; "
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_make_transport_builtin_validates() -> None:
    transport = make_transport(ThreadedHTTPTransport, Dsn.parse(DSN + "?timeout=1.5&queue_size=10"))
    assert transport.options.timeout == 1.5 and transport.options.queue_size == 10
    with pytest.raises(InvalidDsn, match="queue_size"):
        make_transport(HTTPTransport, Dsn.parse(DSN + "?queue_size=10"))


def test_make_transport_subclass_with_own_init() -> None:
    class Sub(HTTPTransport):
        def __init__(self, timeout: Any = 1, custom: str = "x") -> None:
            super().__init__(timeout=timeout)
            self.custom = custom

    transport = make_transport(Sub, Dsn.parse(DSN + "?custom=y&timeout=3"))
    assert transport.custom == "y" and transport.options.timeout == 3.0
    with pytest.raises(InvalidDsn, match="verify_ssl"):
        make_transport(Sub, Dsn.parse(DSN + "?verify_ssl=0"))


def test_make_transport_user_class_kwargs_and_errors() -> None:
    class Kw(Transport):
        def __init__(self, **options: Any) -> None:
            self.options = options

    assert make_transport(Kw, Dsn.parse(DSN + "?a=1&b=two")).options == {"a": "1", "b": "two"}

    class Strict(Transport):
        def __init__(self, timeout: str = "1") -> None:
            if not timeout.isdigit():
                raise ValueError(f"bad timeout {timeout!r}")

    with pytest.raises(InvalidDsn, match="bad timeout"):
        make_transport(Strict, Dsn.parse(DSN + "?timeout=x"))
