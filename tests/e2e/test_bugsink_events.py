"""Events sent by raven-ng are stored by Bugsink as sent: for every transport, both endpoints, and logging."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from bugsink_api import BugsinkProject
from bugsink_server import BugsinkServer
from e2e_cases import TRANSPORTS, TransportCase
from e2e_events import (
    CLIENT_OPTIONS,
    assert_all_sent,
    assert_client_fields,
    assert_exception_event,
    assert_message_event,
    assert_sent_to_store,
    capture_exception_event,
    capture_message_event,
    fail_outer,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_message_event(case: TransportCase, bugsink_project: BugsinkProject, make_client: Any) -> None:
    client = make_client(bugsink_project.dsn, case.load(), **CLIENT_OPTIONS)

    event_id = capture_message_event(client)

    assert client.flush(10)
    assert_message_event(bugsink_project.wait_for_event(event_id))
    assert_all_sent(client.delivery_stats(), 1)


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_exception_event(case: TransportCase, bugsink_project: BugsinkProject, make_client: Any) -> None:
    client = make_client(bugsink_project.dsn, case.load(), **CLIENT_OPTIONS)

    event_id = capture_exception_event(client)

    assert client.flush(10)
    assert_exception_event(bugsink_project.wait_for_event(event_id))
    assert_all_sent(client.delivery_stats(), 1)


@pytest.mark.parametrize("case", TRANSPORTS, ids=lambda case: case.name)
def test_store_endpoint(
    case: TransportCase, bugsink: BugsinkServer, bugsink_project: BugsinkProject, make_client: Any
) -> None:
    client = make_client(bugsink_project.dsn + "?protocol=store", case.load(), **CLIENT_OPTIONS)

    message_id = capture_message_event(client)
    exception_id = capture_exception_event(client)

    assert client.flush(10)
    assert_sent_to_store(bugsink, bugsink_project, message_id, exception_id, client.delivery_stats())


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
            fail_outer()
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
    assert error.function_names(-1)[-1] == "fail_outer"
    assert_client_fields(error)
    assert_all_sent(client.delivery_stats(), 2)
