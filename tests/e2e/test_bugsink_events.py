"""Events sent by raven-ng are stored by Bugsink as sent: for every transport, both endpoints, and logging."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from bugsink_api import BugsinkProject, StoredEvent
from bugsink_server import BugsinkServer
from e2e_cases import TRANSPORTS, TransportCase

pytestmark = pytest.mark.e2e

CLIENT_OPTIONS: dict[str, Any] = {
    "release": "e2e-1.2.3",
    "environment": "e2e",
    "name": "e2e-host",
    "tags": {"site": "e2e-site"},
}


def assert_client_fields(stored: StoredEvent) -> None:
    """The fields every event of a client built with :data:`CLIENT_OPTIONS` carries."""
    from raven.version import SDK_NAME

    assert stored.data["platform"] == "python"
    assert stored.data["release"] == CLIENT_OPTIONS["release"]
    assert stored.data["environment"] == CLIENT_OPTIONS["environment"]
    assert stored.data["server_name"] == CLIENT_OPTIONS["name"]
    assert stored.data["sdk"]["name"] == SDK_NAME
    assert stored.tags["site"] == "e2e-site"


def assert_all_sent(client: Any, count: int) -> None:
    stats = client.delivery_stats()
    assert stats["sent"] == count, stats
    assert not any(stats["lost"].values()), stats


def _fail_inner(answer: int) -> None:
    local_note = "kept in the frame's locals"
    raise RuntimeError(f"inner failure {answer} ({len(local_note)})")


def _fail_outer() -> None:
    try:
        _fail_inner(42)
    except RuntimeError as exc:
        raise ValueError("outer failure") from exc


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_message_event(case: TransportCase, bugsink_project: BugsinkProject, make_client: Any) -> None:
    client = make_client(bugsink_project.dsn, case.load(), **CLIENT_OPTIONS)

    event_id = client.captureMessage(
        "Order %s failed",
        params=("A-17",),
        level=logging.WARNING,
        tags={"order": "A-17"},
        extra={"attempt": 3},
    )

    assert client.flush(10)
    stored = bugsink_project.wait_for_event(event_id)
    assert stored.level == "warning"
    assert stored.message == "Order A-17 failed"
    assert stored.tags["order"] == "A-17"
    assert stored.data["extra"]["attempt"] == 3
    assert_client_fields(stored)
    assert_all_sent(client, 1)


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_exception_event(case: TransportCase, bugsink_project: BugsinkProject, make_client: Any) -> None:
    client = make_client(bugsink_project.dsn, case.load(), **CLIENT_OPTIONS)
    client.user_context({"id": "user-7", "email": "user7@example.org"})
    client.tags_context({"from_context": "yes"})
    client.extra_context({"cart": ["apple", "pear"]})

    try:
        _fail_outer()
    except ValueError:
        event_id = client.captureException(tags={"kind": "chained"}, extra={"order": "A-17"})

    assert client.flush(10)
    stored = bugsink_project.wait_for_event(event_id)
    assert stored.level == "error"
    # Oldest first: the cause, then the exception raised from it.
    assert [(v["type"], v["value"]) for v in stored.exceptions] == [
        ("RuntimeError", "inner failure 42 (26)"),
        ("ValueError", "outer failure"),
    ]
    assert stored.function_names(0) == ["_fail_outer", "_fail_inner"]
    assert stored.function_names(-1) == ["test_exception_event", "_fail_outer"]
    inner_vars = stored.frames(0)[-1].get("vars") or {}
    assert inner_vars.get("answer") in (42, "42")
    assert "kept in the frame" in str(inner_vars.get("local_note"))
    assert stored.tags["kind"] == "chained"
    assert stored.tags["from_context"] == "yes"
    assert stored.data["user"]["id"] == "user-7"
    assert stored.data["user"]["email"] == "user7@example.org"
    assert stored.data["extra"]["order"] == "A-17"
    assert stored.data["extra"]["cart"] == ["apple", "pear"]
    assert_client_fields(stored)
    assert_all_sent(client, 1)


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_store_endpoint(
    case: TransportCase, bugsink: BugsinkServer, bugsink_project: BugsinkProject, make_client: Any
) -> None:
    client = make_client(bugsink_project.dsn + "?protocol=store", case.load(), **CLIENT_OPTIONS)

    message_id = client.captureMessage("sent to /store/", level=logging.INFO)
    try:
        _fail_outer()
    except ValueError:
        exception_id = client.captureException()

    assert client.flush(10)
    message = bugsink_project.wait_for_event(message_id)
    assert (message.level, message.message) == ("info", "sent to /store/")
    assert_client_fields(message)
    exception = bugsink_project.wait_for_event(exception_id)
    assert [v["type"] for v in exception.exceptions] == ["RuntimeError", "ValueError"]
    requests = bugsink.wait_for_requests(bugsink_project.project_id, 2)
    assert [(line.path.rsplit("/", 2)[-2], line.status) for line in requests] == [("store", 200)] * 2
    assert_all_sent(client, 2)


def test_logging_handler(bugsink_project: BugsinkProject, make_client: Any) -> None:
    from raven.handlers.logging import SentryHandler
    from raven.transport.http import HTTPTransport

    client = make_client(bugsink_project.dsn, HTTPTransport, **CLIENT_OPTIONS)
    handler = SentryHandler(client, level=logging.WARNING)
    logger = logging.getLogger(f"raven_ng_e2e.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.info("below the handler's level: not sent")
        logger.warning("order %s delayed", "A-17")
        try:
            _fail_outer()
        except ValueError:
            logger.exception("order %s failed", "A-18")
    finally:
        logger.removeHandler(handler)

    assert client.flush(10)
    assert bugsink_project.wait_for_count(2) == 2
    warning, error = bugsink_project.events()
    assert (warning.level, warning.message, warning.data["logger"]) == (
        "warning",
        "order A-17 delayed",
        logger.name,
    )
    assert (error.level, error.message, error.data["logger"]) == ("error", "order A-18 failed", logger.name)
    assert [v["type"] for v in error.exceptions] == ["RuntimeError", "ValueError"]
    assert error.function_names(-1)[-1] == "_fail_outer"
    assert_client_fields(error)
    assert_all_sent(client, 2)
