"""SentryHandler end to end: log records -> events at a real loopback server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from raven import Client
from raven.handlers.logging import SentryHandler
from raven.transport.http import HTTPTransport

HOOKS_OFF: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def normalizer_errors(event: dict[str, Any]) -> Any:
    processing = pytest.importorskip("sentry_relay.processing")
    return processing.StoreNormalizer().normalize_event(event).get("errors")


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("handlertest.app")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        client = getattr(handler, "client", None)
        if client is not None:
            client.close(timeout=5)


def events_after_flush(server: Any, handler: SentryHandler, count: int) -> list[dict[str, Any]]:
    assert handler.client.flush(10)
    server.wait_until(
        lambda requests: sum(len(r.events()) for r in requests) >= count, what=f"{count} events"
    )
    return server.events()


def test_message_record_with_extra_and_tags(http_server: Any, logger: logging.Logger) -> None:
    handler = SentryHandler(http_server.dsn(), tags={"handler": "h"}, **HOOKS_OFF)
    logger.addHandler(handler)
    logger.warning(
        "user %s logged in %d times",
        "alice",
        3,
        extra={"request_id": "r-1", "tags": {"record": "r"}, "data": {"blob": 1}, "culprit": "views.login"},
    )
    [event] = events_after_flush(http_server, handler, 1)
    assert event["logentry"] == {
        "message": "user %s logged in %d times",
        "params": ["alice", 3],
        "formatted": "user alice logged in 3 times",
    }
    assert event["level"] == "warning"
    assert event["logger"] == "handlertest.app"
    assert event["tags"] == {"handler": "h", "record": "r"}
    assert event["extra"]["request_id"] == "r-1"
    assert event["extra"]["blob"] == 1
    assert event["extra"]["lineno"] > 0
    assert event["culprit"] == "views.login"
    assert "exception" not in event
    assert normalizer_errors(event) is None


def test_exception_record(http_server: Any, logger: logging.Logger) -> None:
    client = Client(http_server.dsn(), **HOOKS_OFF)
    handler = SentryHandler(client)
    logger.addHandler(handler)
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed for %s", "missing")
    [event] = events_after_flush(http_server, handler, 1)
    assert event["level"] == "error"
    assert event["logentry"]["formatted"] == "lookup failed for missing"
    value = event["exception"]["values"][-1]
    assert value["type"] == "KeyError"
    assert value["mechanism"] == {"type": "logging", "handled": True}
    assert value["stacktrace"]["frames"][-1]["function"] == "test_exception_record"
    assert normalizer_errors(event) is None


def test_record_stack_starts_at_the_logging_call(http_server: Any, logger: logging.Logger) -> None:
    handler = SentryHandler(client=Client(http_server.dsn(), transport=HTTPTransport, **HOOKS_OFF))
    logger.addHandler(handler)
    logger.info("with a stack", extra={"stack": True})
    [event] = events_after_flush(http_server, handler, 1)
    frames = event["stacktrace"]["frames"]
    assert frames[-1]["function"] == "test_record_stack_starts_at_the_logging_call"
    assert not any(f.get("module", "").startswith(("logging", "raven.")) for f in frames)


def test_handler_level_and_own_loggers_are_respected(
    http_server: Any, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = SentryHandler(
        dsn=http_server.dsn(), transport=HTTPTransport, level=logging.WARNING, **HOOKS_OFF
    )
    logger.addHandler(handler)
    logger.info("below the handler level")
    own = logging.getLogger("sentry.errors.test")
    own.propagate = False
    own.addHandler(handler)
    try:
        own.error("our own diagnostics")
    finally:
        own.removeHandler(handler)
    logger.error("sent")
    events = events_after_flush(http_server, handler, 1)
    assert [e["logentry"]["formatted"] for e in events] == ["sent"]
    assert "our own diagnostics" in capsys.readouterr().err


def test_bad_format_arguments_still_send_the_template(http_server: Any, logger: logging.Logger) -> None:
    handler = SentryHandler(http_server.dsn(), **HOOKS_OFF)
    logger.addHandler(handler)
    # Straight to the handler: pytest's own capture handler would fail on these arguments.
    handler.handle(
        logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "%d apples", ("not a number",), None)
    )
    [event] = events_after_flush(http_server, handler, 1)
    assert event["logentry"]["formatted"] == "%d apples"
    assert normalizer_errors(event) is None


def test_sample_rate_from_extra(http_server: Any, logger: logging.Logger) -> None:
    handler = SentryHandler(http_server.dsn(), transport=HTTPTransport, **HOOKS_OFF)
    logger.addHandler(handler)
    logger.error("never sampled", extra={"sample_rate": 0})
    logger.error("kept")
    events = events_after_flush(http_server, handler, 1)
    assert [e["logentry"]["formatted"] for e in events] == ["kept"]
    assert handler.client.delivery_stats()["lost"] == {"sample_rate:error": 1}


def test_handler_never_raises(
    logger: logging.Logger, refused_dsn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = SentryHandler(refused_dsn(query="timeout=2"), transport=HTTPTransport, **HOOKS_OFF)
    logger.addHandler(handler)
    logger.error("nobody listens")  # a refused connection: counted, not raised
    assert handler.client.delivery_stats()["lost"] == {"network_error:error": 1}

    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        __repr__ = __str__

    # An unprintable message: still no exception into the caller (straight to the handler, as
    # pytest's capture handler would fail on it).
    handler.handle(logger.makeRecord(logger.name, logging.ERROR, __file__, 1, Exploding(), (), None))
    assert handler.client.delivery_stats()["lost"] == {"network_error:error": 2}
    assert "Logging error" not in capsys.readouterr().err


def test_the_first_argument_must_be_a_dsn_or_a_client() -> None:
    with pytest.raises(ValueError, match="Client instance or a DSN"):
        SentryHandler(42)
