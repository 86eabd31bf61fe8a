"""Events raven-ng builds from awkward input pass Bugsink's strict validation (Sentry's event schema)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from bugsink_server import BugsinkServer
from handmade import make_event, post_envelope

pytestmark = pytest.mark.e2e


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


AWKWARD_EXTRA: dict[str, Any] = {
    "object": object(),
    "unprintable": Unprintable(),
    "bytes": b"\xff\xfe binary",
    "none": None,
    "float": 1.5,
    "nan": float("nan"),
    "set": {1, 2},
    "tuple_key": {(1, 2): "tuple key"},
    "int_key": {1: "int key"},
    "nested": {"a": [{"b": [1, 2, {"c": "deep"}]}]},
    "long": "x" * 20_000,
}


def _raise_with_awkward_locals() -> None:
    handle = Unprintable()
    data = {"k": [1, 2, object()], 3: b"\x00"}
    try:
        raise KeyError("inner", handle, data)
    except KeyError as exc:
        raise OSError(5, "outer") from exc


def _log_size(server: BugsinkServer) -> int:
    return server.server_log.stat().st_size


def assert_stored(server: BugsinkServer, project: Any, expected: int, log_from: int) -> None:
    """``expected`` events stored; else quote Bugsink's reasons, logged since offset ``log_from``."""
    count = project.wait_for_count(expected, timeout=10)
    with open(server.server_log, "rb") as log:
        log.seek(log_from)
        lines = log.read().decode(errors="replace").splitlines()
    marker = "django.core.exceptions.ValidationError: "
    rejected = sorted({line.split(marker, 1)[1] for line in lines if marker in line})
    assert count == expected, f"{count} of {expected} stored; Bugsink rejected: {rejected}"


def test_an_invalid_event_is_not_stored(strict_bugsink: BugsinkServer) -> None:
    """The control: strict validation does reject what breaks the schema."""
    project = strict_bugsink.new_project("schema-control")
    invalid = dict(make_event("level as a number"), level=40)
    valid = make_event("valid")
    assert post_envelope(project.dsn, invalid)[0] == 200
    assert post_envelope(project.dsn, valid)[0] == 200
    project.wait_for_event(valid["event_id"])
    assert project.lookup(invalid["event_id"]) is None


@pytest.mark.parametrize("query", ["", "?protocol=store"], ids=["envelope", "store"])
def test_awkward_events_are_valid(strict_bugsink: BugsinkServer, query: str, make_client: Any) -> None:
    from raven.handlers.logging import SentryHandler
    from raven.transport.http import HTTPTransport

    project = strict_bugsink.new_project(f"schema-{query or 'envelope'}")
    log_from = _log_size(strict_bugsink)
    client = make_client(project.dsn + query, HTTPTransport, release="r", environment="e", tags={"t": "v"})
    client.user_context({"id": "17", "email": "x@example.org", "data": {"plan": Unprintable()}})
    client.http_context({"url": "http://example.org/a?b=c", "method": "POST", "data": {"f": b"\xff"}})
    client.captureBreadcrumb(message="a crumb", category="test", data={"obj": object()})

    client.captureMessage("awkward %s %r", params=(Unprintable(), b"\xff"), extra=AWKWARD_EXTRA)
    client.captureMessage(b"bytes message \xff", level="fatal")
    try:
        _raise_with_awkward_locals()
    except OSError:
        client.captureException(extra=AWKWARD_EXTRA, tags={"k": Unprintable()})
    logger = logging.getLogger(f"raven_ng_e2e_schema.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    handler = SentryHandler(client)
    logger.addHandler(handler)
    try:
        logger.error("log %s %d", Unprintable(), 3, extra={"stack": True, "data": {"x": object()}})
        try:
            _raise_with_awkward_locals()
        except OSError:
            logger.exception("logged with exc_info")
    finally:
        logger.removeHandler(handler)

    assert client.flush(10)
    stats = client.delivery_stats()
    assert stats["sent"] == 5, stats
    assert_stored(strict_bugsink, project, 5, log_from)


def test_numeric_user_id_is_valid(strict_bugsink: BugsinkServer, make_client: Any) -> None:
    """``user_context({"id": user.pk})`` is common; the schema wants a string (Relay coerces it)."""
    from raven.transport.http import HTTPTransport

    project = strict_bugsink.new_project("schema-user-id")
    log_from = _log_size(strict_bugsink)
    client = make_client(project.dsn, HTTPTransport)
    client.user_context({"id": 17})

    event_id = client.captureMessage("numeric user id")

    assert client.flush(10)
    assert_stored(strict_bugsink, project, 1, log_from)
    assert project.wait_for_event(event_id).data["user"]["id"] == "17"
