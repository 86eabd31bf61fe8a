"""raven.utils helpers: basic (merge_dicts, varmap, memoize, once, is_namedtuple), the package's
get_versions / get_auth_header, imports, conf.convert_options, transaction, urlparse."""

from __future__ import annotations

import collections
import threading
import types
import urllib.parse
from typing import Any

import pytest

import raven
from raven.utils import (
    get_auth_header,
    get_version_from_app,
    get_versions,
    is_namedtuple,
    logger,
    memoize,
    merge_dicts,
    once,
    varmap,
)
from raven.utils.conf import convert_options
from raven.utils.imports import import_string
from raven.utils.transaction import TransactionContext, TransactionStack
from raven.utils.urlparse import parse_qsl, register_scheme, urlparse

QUIET: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}

# -- basic


def test_merge_dicts_later_wins_and_skips_empty() -> None:
    first = {"a": 1, "b": 1}
    assert merge_dicts(first, None, {}, {"b": 2, "c": 3}) == {"a": 1, "b": 2, "c": 3}
    assert first == {"a": 1, "b": 1}  # inputs untouched


def test_varmap_applies_to_leaves_with_their_keys_and_survives_cycles() -> None:
    data: dict[str, Any] = {"password": "x", "items": [{"token": "t"}], "n": 1}
    data["self"] = data
    seen: list[Any] = []

    def mask(key: Any, value: Any) -> Any:
        seen.append(key)
        if key in ("password", "token"):
            return "***"
        return value

    result = varmap(mask, data)
    assert result["password"] == "***"
    assert result["items"] == [{"token": "***"}]
    assert result["n"] == 1
    assert result["self"] == "<...>"  # the cycle is cut, func sees the marker


def test_memoize_computes_once_per_instance() -> None:
    calls = []

    class Thing:
        @memoize
        def value(self) -> int:
            calls.append(self)
            return len(calls)

    a, b = Thing(), Thing()
    assert (a.value, a.value, b.value) == (1, 1, 2)
    assert len(calls) == 2
    assert isinstance(Thing.value, memoize)
    a.value = 10  # a plain attribute now
    assert a.value == 10


def test_once_runs_the_first_successful_call_only_across_threads() -> None:
    calls = []
    barrier = threading.Barrier(8)

    @once
    def setup(tag: int) -> int:
        calls.append(tag)
        return tag

    def worker(tag: int) -> None:
        barrier.wait()
        setup(tag)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert setup.called  # type: ignore[attr-defined]
    assert setup(99) is None
    assert setup.__name__ == "setup"


def test_once_retries_after_a_failure() -> None:
    attempts = []

    @once
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first")
        return "ok"

    with pytest.raises(RuntimeError):
        flaky()
    assert flaky() == "ok"
    assert flaky() is None


def test_is_namedtuple() -> None:
    Point = collections.namedtuple("Point", "x y")

    class Sub(Point):
        pass

    assert is_namedtuple(Point(1, 2)) and is_namedtuple(Sub(1, 2))
    assert not is_namedtuple((1, 2))
    assert not is_namedtuple([1, 2])


# -- raven.utils: versions, auth header


def test_get_versions_covers_parents_and_skips_unimportable() -> None:
    versions = get_versions(["raven.contrib.nothing_here", "no_such_module_xyz"])
    assert versions == {"raven": raven.VERSION}
    assert get_versions(None) == {} and get_versions([]) == {}


def test_get_version_from_app_reads_attributes() -> None:
    module = types.ModuleType("not_installed_app_xyz")
    module.VERSION = (1, 2, 3)  # type: ignore[attr-defined]
    assert get_version_from_app("not_installed_app_xyz", module) == "1.2.3"
    module.get_version = lambda: "4.5"  # type: ignore[attr-defined]
    assert get_version_from_app("not_installed_app_xyz", module) == "4.5"
    assert get_version_from_app("not_installed_app_xyz", types.ModuleType("x")) is None
    # An installed distribution wins over the attributes.
    pytest_module = types.ModuleType("pytest")
    assert get_version_from_app("pytest", pytest_module) == pytest.__version__


def test_get_auth_header_is_raven610s() -> None:
    assert get_auth_header(protocol=7, timestamp=42, client="raven-python/1.0", api_key="foo") == (
        "Sentry sentry_timestamp=42, sentry_client=raven-python/1.0, sentry_version=7, sentry_key=foo"
    )
    assert get_auth_header(6, 1.5, "c/1", "k", "s").endswith("sentry_key=k, sentry_secret=s")


def test_logger_is_raven_errors() -> None:
    assert logger.name == "raven.errors"


# -- imports, conf


def test_import_string() -> None:
    assert import_string("raven") is raven
    assert import_string("raven.Client") is raven.Client
    assert import_string("raven.utils.wsgi").__name__ == "raven.utils.wsgi"  # a submodule not imported yet
    with pytest.raises(AttributeError):
        import_string("raven.NoSuchThing")
    with pytest.raises(ImportError):
        import_string("no_such_module_xyz.Thing")


def test_convert_options_from_a_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "https://k@env.example/1")
    options = convert_options(
        {
            "SENTRY_FOO": "foo",
            "FOO": "bar",
            "SENTRY_RELEASE": "a",
            "SENTRY_IGNORE_EXCEPTIONS": ["b"],
            "SENTRY_TRANSPORT": "raven.transport.http.HTTPTransport",
        },
        defaults={"environment": "production"},
    )
    assert options["release"] == "a"
    assert options["ignore_exceptions"] == ["b"]
    assert options["environment"] == "production"
    assert options["dsn"] == "https://k@env.example/1"
    assert options["include_paths"] == [] and options["exclude_paths"] == []
    from raven.transport.http import HTTPTransport

    assert options["transport"] is HTTPTransport
    assert "foo" not in options


def test_convert_options_from_settings_object_with_config_dict() -> None:
    class Settings:
        RAVEN_CONFIG = {"dsn": "https://k@cfg.example/2", "release": "from-config"}
        SENTRY_RELEASE = "from-setting"
        SENTRY_TAGS = {"t": "v"}

    options = convert_options(Settings())
    assert options["dsn"] == "https://k@cfg.example/2"
    assert options["release"] == "from-config"  # the config dict wins
    assert options["tags"] == {"t": "v"}
    assert Settings.RAVEN_CONFIG == {"dsn": "https://k@cfg.example/2", "release": "from-config"}
    client = raven.Client(**options, **QUIET)
    assert client.release == "from-config" and client.tags == {"t": "v"}


# -- transaction, urlparse


def test_transaction_stack_is_the_clients() -> None:
    stack = TransactionStack()
    stack.push("foo")
    bar = stack.push(["bar"])
    stack.push({"baz": True})
    assert len(stack) == 3 and stack.peek() == {"baz": True}
    stack.pop(bar)
    assert list(stack) == ["foo"]
    with stack("view") as ctx:
        assert isinstance(ctx, TransactionContext)
        assert stack.peek() == "view"
    assert stack.peek() == "foo"
    client = raven.Client(**QUIET)
    assert isinstance(client.transaction, TransactionStack)


def test_transaction_stack_is_per_thread() -> None:
    stack = TransactionStack()
    stack.push("main")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(stack.peek()))
    thread.start()
    thread.join()
    assert seen == [None]


def test_urlparse_and_register_scheme() -> None:
    assert urlparse is urllib.parse.urlparse and parse_qsl is urllib.parse.parse_qsl
    register_scheme("custom+https")
    register_scheme("custom+https")
    assert urllib.parse.uses_netloc.count("custom+https") == 1
    parsed = urlparse("custom+https://key@host:9000/1?timeout=2")
    assert (parsed.hostname, parsed.port, parsed.query) == ("host", 9000, "timeout=2")
