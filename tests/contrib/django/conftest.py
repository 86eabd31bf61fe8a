"""Fixtures of the Django integration's tests: Django set up once (the project in
``djangoapp/``, an SQLite file), the settings' client pointed at a loopback Sentry per test, a
real WSGI server, and helpers to read what the Sentry server received.

Django can be set up once per process: every test here shares ``djangoapp.settings``; a test
that needs other settings overrides them (``override_settings``) or runs a subprocess.
"""

from __future__ import annotations

import os
import socketserver
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

django = pytest.importorskip("django")

# The settings are loaded once, from the environment, which is then put back as it was: child
# processes of other tests (a Celery worker ...) must not find a Django project to set up.
_saved = {
    name: os.environ.get(name)
    for name in ("DJANGO_SETTINGS_MODULE", "RAVEN_DJANGO_TEST_DB", "RAVEN_TEST_DSN")
}
os.environ["RAVEN_DJANGO_TEST_DB"] = os.path.join(tempfile.mkdtemp(prefix="raven-ng-django-"), "db.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "djangoapp.settings"
os.environ.pop("RAVEN_TEST_DSN", None)
try:
    django.setup()
finally:
    for _name, _value in _saved.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value

from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from pipeline import normalizer_errors  # noqa: E402
from servers import LoopbackServer  # noqa: E402

setup_test_environment()  # the test client's response.templates etc.; the mail outbox


@pytest.fixture(scope="session", autouse=True)
def _database() -> None:
    call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture
def user() -> Any:
    from django.contrib.auth.models import User

    found = User.objects.filter(username="alice").first()
    return found or User.objects.create_user("alice", "alice@example.com", "wonderland")


@dataclass
class Sentry:
    """The settings' client, sending to ``server``."""

    server: LoopbackServer
    client: Any

    def events(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The events the server received, once it has at least ``count`` (flushes first)."""
        assert self.client.flush(timeout)
        self.server.wait_until(lambda _: len(self.server.events()) >= count, timeout, f"{count} events")
        events = self.server.events()
        for event in events:
            assert not normalizer_errors(event), normalizer_errors(event)
        return events

    def event(self, timeout: float = 10.0) -> dict[str, Any]:
        events = self.events(1, timeout)
        assert len(events) == 1, [e.get("message") or e.get("logentry") for e in events]
        return events[0]

    def nothing_sent(self) -> None:
        assert self.client.flush(10)
        assert self.server.events() == []


@pytest.fixture
def settings_override() -> Any:
    """``with settings_override(NAME=value): ...`` (Django's ``override_settings``)."""
    return override_settings


def _reset_client() -> Any:
    from raven.contrib.django.models import get_client

    return get_client(reset=True)


@pytest.fixture
def configure_sentry() -> Iterator[Callable[..., Any]]:
    """``configure_sentry(dsn, **more RAVEN_CONFIG)``: the settings' client rebuilt for ``dsn``."""
    from django.conf import settings

    overrides: list[Any] = []

    def configure(dsn: Optional[str], **options: Any) -> Any:
        config = dict(settings.RAVEN_CONFIG, dsn=dsn, **options)
        override = override_settings(RAVEN_CONFIG=config)
        override.enable()
        overrides.append(override)
        return _reset_client()

    yield configure
    from raven.contrib.django.models import get_client

    get_client().close(timeout=1)
    for override in reversed(overrides):
        override.disable()
    _reset_client()


@pytest.fixture
def sentry(http_server: LoopbackServer, configure_sentry: Callable[..., Any]) -> Sentry:
    """The settings' client sending to a loopback Sentry server (``sentry.events()``)."""
    return Sentry(http_server, configure_sentry(http_server.dsn()))


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    server: Any


@pytest.fixture
def live_server_factory() -> Iterator[Callable[[Any], LiveServer]]:
    """``start(application)``: a real threaded WSGI server (wsgiref) on 127.0.0.1 serving it."""
    started: list[Any] = []

    def start(application: Any) -> LiveServer:
        httpd = make_server(
            "127.0.0.1", 0, application, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((httpd, thread))
        return LiveServer(f"http://127.0.0.1:{httpd.server_port}", httpd)

    yield start
    for httpd, thread in started:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def live_server(live_server_factory: Callable[[Any], LiveServer]) -> LiveServer:
    """The project's WSGI application (``get_wsgi_application()``) on a real server."""
    from django.core.wsgi import get_wsgi_application

    return live_server_factory(get_wsgi_application())
