"""raven.handlers.logbook.SentryHandler with Logbook: which records become which events (message,
arguments, level, channel, extra, tags, exceptions), its constructor forms, its own channels
kept out, and one record delivered to a loopback Sentry server through a real client."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from raven.base import Client
from raven.transport.http import HTTPTransport
from raven.utils.levels import normalize_level
from raven.utils.testutils import InMemoryClient

logbook = pytest.importorskip("logbook")

from raven.handlers.logbook import SentryHandler  # noqa: E402

QUIET: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def message_of(event: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(template, params, formatted) of the event, from raven 6.10's interface or Sentry's logentry."""
    entry = event.get("sentry.interfaces.Message") or event.get("logentry") or {}
    return entry.get("message"), list(entry.get("params") or ()), entry.get("formatted")


@pytest.fixture
def client(in_memory_client: InMemoryClient) -> InMemoryClient:
    return in_memory_client


@pytest.fixture
def logger() -> Any:
    return logbook.Logger("app.orders")


def test_records_become_message_events(client: InMemoryClient, logger: Any) -> None:
    handler = SentryHandler(client)
    with handler.applicationbound():
        logger.error("This is a test error")
        logger.warning("order {0} is late by {1} days", "A-1", 3)
        logger.info("with a url", extra={"url": "http://example.com"})
        logger.notice("noticed")

    error, warning, info, notice = client.events
    assert error["logger"] == "app.orders"
    assert normalize_level(error["level"]) == "error"
    assert message_of(error)[0] == "This is a test error"
    assert "exception" not in error

    template, params, formatted = message_of(warning)
    assert template == "order {0} is late by {1} days"
    assert formatted == "order A-1 is late by 3 days"
    assert len(params) == 2
    assert normalize_level(warning["level"]) == "warning"

    assert "example.com" in str(info["extra"]["url"])
    assert normalize_level(info["level"]) == "info"
    assert normalize_level(notice["level"]) == "info"  # Logbook's NOTICE, which Sentry lacks

    for event in (error, warning, info):
        extra = event["extra"]
        assert "test_records_become_message_events" in str(extra["function"])
        assert "test_handlers_logbook" in str(extra["filename"])
        assert "lineno" in extra and "process" in extra


def test_record_with_exception_info_is_an_exception_event_with_the_message(
    client: InMemoryClient, logger: Any
) -> None:
    with SentryHandler(client).applicationbound():
        try:
            raise ValueError("This is a test ValueError")
        except ValueError:
            logger.info("failed to ship {0}", "A-2", exc_info=True)

    [event] = client.events
    exc = event["exception"]["values"][-1]
    assert (exc["type"], exc["value"]) == ("ValueError", "This is a test ValueError")
    assert message_of(event)[0] == "failed to ship {0}"
    assert message_of(event)[2] == "failed to ship A-2"


def test_tags_and_level_filter(client: InMemoryClient, logger: Any) -> None:
    with SentryHandler(client, level="WARNING").applicationbound():
        logger.info("below the handler level")
        logger.error("tagged", tags={"order": "A-3"})
    [event] = client.events
    assert event["tags"]["order"] == "A-3"


def test_own_channels_go_to_stderr_not_to_sentry(
    client: InMemoryClient, capsys: pytest.CaptureFixture[str]
) -> None:
    with SentryHandler(client).applicationbound():
        logbook.Logger("sentry.errors").error("transport trouble")
        logbook.Logger("raven.base").error("client trouble")
    assert client.events == []
    err = capsys.readouterr().err
    assert "transport trouble" in err and "client trouble" in err


def test_constructor_forms(client: InMemoryClient) -> None:
    assert SentryHandler(client).client is client
    assert SentryHandler(client=client, bubble=True).client is client
    assert SentryHandler(client=client, bubble=True).bubble
    built = SentryHandler("http://public:secret@127.0.0.1:9/7", client_cls=InMemoryClient, **QUIET)
    assert type(built.client) is InMemoryClient and built.client.remote.project == "7"
    built.client.close(timeout=0)
    with pytest.raises(ValueError, match="must be either a Client instance or a DSN"):
        SentryHandler(object())
    with pytest.raises(TypeError, match="client"):
        SentryHandler()


def test_failure_while_sending_is_logged_not_raised(
    client: InMemoryClient, logger: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_capture(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("capture failed")

    client.capture = broken_capture  # type: ignore[method-assign]
    with SentryHandler(client).applicationbound():
        logger.error("will fail")  # no exception reaches the logging call
    assert [r.getMessage() for r in caplog.records if r.name == "raven.errors"] == [
        "Sentry: could not send a Logbook record ('will fail')"
    ]

    # With raise_send_errors the error is raised to Logbook, whose handle_error reports it.
    caplog.clear()
    client.raise_send_errors = True
    with SentryHandler(client).applicationbound():
        logger.error("raises now")
    assert not [r for r in caplog.records if r.name == "raven.errors"]
    assert "RuntimeError: capture failed" in capsys.readouterr().err


def test_record_reaches_a_sentry_server(http_server: Any, logger: Any) -> None:
    client = Client(http_server.dsn(), transport=HTTPTransport, **QUIET)
    try:
        with SentryHandler(client).applicationbound():
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                logger.error("could not divide {0}", "x", exc_info=True)
        assert client.flush(10)
        http_server.wait_until(lambda requests: any(r.events() for r in requests), what="an event")
    finally:
        client.close(timeout=5)
    [event] = http_server.events()
    assert event["logger"] == "app.orders"
    assert event["level"] == "error"
    assert event["logentry"]["formatted"] == "could not divide x"
    exc = event["exception"]["values"][-1]
    assert exc["type"] == "ZeroDivisionError"
    assert exc["stacktrace"]["frames"][-1]["function"] == "test_record_reaches_a_sentry_server"


def test_missing_logbook_is_an_import_error_naming_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['logbook'] = None  # as if not installed\n"
        "try:\n"
        "    import raven.handlers.logbook\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pip install 'raven-ng[logbook]'" in result.stdout
