"""Fixtures of the end-to-end suite: real Bugsink servers on 127.0.0.1, and raven-ng clients for them.

``bugsink`` is one server for the session with quotas out of the way; ``low_quota_bugsink`` one
whose per-project quota is :data:`LOW_QUOTA` events per 5 minutes, for the 429 tests;
``strict_bugsink`` one that stores only events valid under Sentry's event schema. Each starts on
first use. Tests take a fresh project (its own key, counters and quota) from ``bugsink_project`` /
``low_quota_project``, or from ``server.new_project(name)``.

Installing Bugsink is cached (see ``bugsink_server``). When it cannot be installed or started the
tests fail, saying why; ``RAVEN_SKIP_E2E=1`` skips them instead. ``RAVEN_E2E_CACHE`` moves the cache
(default ``~/.cache/raven-ng``), ``RAVEN_E2E_PYTHON`` picks the interpreter for Bugsink (>= 3.11).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import (
    BUGSINK_VERSION,
    BugsinkError,
    BugsinkInstall,
    BugsinkServer,
    ensure_installed,
    start_server,
)
from e2e_cases import LOW_QUOTA

_SKIP_HINT = "set RAVEN_SKIP_E2E=1 to skip the end-to-end tests"


def _skip_requested() -> bool:
    return os.environ.get("RAVEN_SKIP_E2E", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def bugsink_install() -> BugsinkInstall:
    """The cached Bugsink venv, installed on first use."""
    if _skip_requested():
        pytest.skip("RAVEN_SKIP_E2E is set")
    try:
        return ensure_installed()
    except BugsinkError as exc:
        problem = str(exc)
    pytest.fail(f"could not install Bugsink {BUGSINK_VERSION}: {problem}\n({_SKIP_HINT})", pytrace=False)


StartBugsink = Callable[..., BugsinkServer]


@pytest.fixture(scope="session")
def bugsink_factory(
    bugsink_install: BugsinkInstall, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartBugsink]:
    """``start(name, **settings)``: start another Bugsink with these BUGSINK settings; all stop at the end."""
    servers: list[BugsinkServer] = []

    def start(name: str, **settings: object) -> BugsinkServer:
        try:
            server = start_server(bugsink_install, tmp_path_factory.mktemp(name), settings)
        except BugsinkError as exc:
            problem = str(exc)
        else:
            servers.append(server)
            return server
        pytest.fail(f"could not start Bugsink {BUGSINK_VERSION}: {problem}\n({_SKIP_HINT})", pytrace=False)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def bugsink(bugsink_factory: StartBugsink) -> BugsinkServer:
    """A Bugsink with quotas too high to matter."""
    return bugsink_factory("bugsink")


@pytest.fixture(scope="session")
def low_quota_bugsink(bugsink_factory: StartBugsink) -> BugsinkServer:
    """A Bugsink that answers 429 once a project got :data:`LOW_QUOTA` events in 5 minutes."""
    return bugsink_factory("bugsink-low-quota", MAX_EVENTS_PER_PROJECT_PER_5_MINUTES=LOW_QUOTA)


@pytest.fixture(scope="session")
def strict_bugsink(bugsink_factory: StartBugsink) -> BugsinkServer:
    """A Bugsink that validates every event against its copy of Sentry's event schema.

    An event that fails is still answered 200, but not stored, and the server log says why.
    """
    return bugsink_factory("bugsink-strict", VALIDATE_ON_DIGEST="strict")


_project_numbers = itertools.count(1)


def _project_name(request: pytest.FixtureRequest) -> str:
    slug = re.sub(r"[^\w.-]+", "-", request.node.name)[:80]
    return f"{next(_project_numbers)}-{slug}"


@pytest.fixture
def bugsink_project(bugsink: BugsinkServer, request: pytest.FixtureRequest) -> BugsinkProject:
    """A fresh project of ``bugsink``: it holds only this test's events."""
    return bugsink.new_project(_project_name(request))


@pytest.fixture
def low_quota_project(low_quota_bugsink: BugsinkServer, request: pytest.FixtureRequest) -> BugsinkProject:
    """A fresh project of ``low_quota_bugsink``, with its whole quota left."""
    return low_quota_bugsink.new_project(_project_name(request))


MakeClient = Callable[..., Any]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """``make_client(dsn, transport, **options)``: a raven Client that leaves no hook or thread behind."""
    from raven import Client

    clients: list[Any] = []

    def make(dsn: str, transport: Optional[type] = None, **options: Any) -> Any:
        options.setdefault("install_sys_hook", False)
        client = Client(dsn, transport=transport, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        close = getattr(client, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
