"""The events the end-to-end tests send, and the checks of what Bugsink stored of them.

Stdlib only: the loop children (``children/loop_child.py``) import this module after their
monkeypatching, so every transport, threaded or on an event loop, sends the very same events and
is held to the very same assertions (made in the pytest process, on what Bugsink stored).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugsink_api import BugsinkProject, StoredEvent
    from bugsink_server import BugsinkServer

#: The options of every client of these tests; :func:`assert_client_fields` checks their fields.
CLIENT_OPTIONS: dict[str, Any] = {
    "release": "e2e-1.2.3",
    "environment": "e2e",
    "name": "e2e-host",
    "tags": {"site": "e2e-site"},
}


def fail_inner(answer: int) -> None:
    local_note = "kept in the frame's locals"
    raise RuntimeError(f"inner failure {answer} ({len(local_note)})")


def fail_outer() -> None:
    try:
        fail_inner(42)
    except RuntimeError as exc:
        raise ValueError("outer failure") from exc


def capture_message_event(client: Any) -> str:
    """Capture the message event that :func:`assert_message_event` checks; return its id."""
    return str(
        client.captureMessage(
            "Order %s failed",
            params=("A-17",),
            level=logging.WARNING,
            tags={"order": "A-17"},
            extra={"attempt": 3},
        )
    )


def capture_exception_event(client: Any) -> str:
    """Capture the chained exception that :func:`assert_exception_event` checks; return its id."""
    client.user_context({"id": "user-7", "email": "user7@example.org"})
    client.tags_context({"from_context": "yes"})
    client.extra_context({"cart": ["apple", "pear"]})
    try:
        fail_outer()
    except ValueError:
        return str(client.captureException(tags={"kind": "chained"}, extra={"order": "A-17"}))
    raise AssertionError("fail_outer did not raise")


def assert_client_fields(stored: StoredEvent) -> None:
    """The fields every event of a client built with :data:`CLIENT_OPTIONS` carries."""
    from raven.version import SDK_NAME

    assert stored.data["platform"] == "python"
    assert stored.data["release"] == CLIENT_OPTIONS["release"]
    assert stored.data["environment"] == CLIENT_OPTIONS["environment"]
    assert stored.data["server_name"] == CLIENT_OPTIONS["name"]
    assert stored.data["sdk"]["name"] == SDK_NAME
    assert stored.tags["site"] == "e2e-site"


def assert_message_event(stored: StoredEvent) -> None:
    """What Bugsink stored of :func:`capture_message_event`'s event."""
    assert stored.level == "warning"
    assert stored.message == "Order A-17 failed"
    assert stored.tags["order"] == "A-17"
    assert stored.data["extra"]["attempt"] == 3
    assert_client_fields(stored)


def assert_exception_event(stored: StoredEvent) -> None:
    """What Bugsink stored of :func:`capture_exception_event`'s event."""
    assert stored.level == "error"
    # Oldest first: the cause, then the exception raised from it.
    assert [(v["type"], v["value"]) for v in stored.exceptions] == [
        ("RuntimeError", "inner failure 42 (26)"),
        ("ValueError", "outer failure"),
    ]
    assert stored.function_names(0) == ["fail_outer", "fail_inner"]
    assert stored.function_names(-1) == ["capture_exception_event", "fail_outer"]
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


def assert_all_sent(stats: Mapping[str, Any], count: int) -> None:
    """``stats`` (a client's ``delivery_stats()``): ``count`` events sent, none lost."""
    assert stats["sent"] == count, stats
    assert not any(stats["lost"].values()), stats


def assert_sent_to_store(
    server: BugsinkServer,
    project: BugsinkProject,
    message_id: str,
    exception_id: str,
    stats: Mapping[str, Any],
) -> None:
    """Both events of a client whose DSN says ``?protocol=store``: stored, and posted to ``/store/``."""
    assert_message_event(project.wait_for_event(message_id))
    assert_exception_event(project.wait_for_event(exception_id))
    requests = server.wait_for_requests(project.project_id, 2)
    assert [(line.path.rsplit("/", 2)[-2], line.status) for line in requests] == [("store", 200)] * 2
    assert_all_sent(stats, 2)
