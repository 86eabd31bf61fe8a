"""Reading back what Bugsink stored, through its REST API (``/api/canonical/0/``, bearer token).

Stdlib only. Bugsink keeps each event's payload as the SDK sent it, so the tests compare the stored
``data`` with what the client sent; :class:`StoredEvent` smooths over the few shapes a field may take.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional


class BugsinkApi:
    """A minimal client of Bugsink's canonical API."""

    def __init__(self, url: str, token: str) -> None:
        self.base = url.rstrip("/") + "/api/canonical/0"
        self.token = token

    def get(self, path: str, **params: object) -> Any:
        """GET ``path`` (relative to the API root, or a full URL); return the decoded JSON."""
        url = path if path.startswith("http") else self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return self._call(urllib.request.Request(url, headers=self._headers()))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` as JSON to ``path``; return the decoded JSON."""
        headers = {**self._headers(), "Content-Type": "application/json"}
        return self._call(
            urllib.request.Request(self.base + path, data=json.dumps(body).encode(), headers=headers)
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token, "Accept": "application/json"}

    @staticmethod
    def _call(request: urllib.request.Request) -> Any:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)

    def pages(self, path: str, **params: object) -> Iterator[dict[str, Any]]:
        """Every result of a paginated list, following its ``next`` links."""
        page = self.get(path, **params)
        yield from page["results"]
        while page.get("next"):
            page = self.get(page["next"])
            yield from page["results"]

    def create_project(self, team_id: str, name: str) -> BugsinkProject:
        self.post("/projects/", {"team": team_id, "name": name})
        # The create reply does not carry the DSN; the list does.
        for project in self.pages("/projects/"):
            if project["team"] == team_id and project["name"] == name:
                return BugsinkProject(self, int(project["id"]), project["dsn"])
        raise LookupError(f"project {name!r} not listed after creating it")


@dataclass(frozen=True)
class StoredEvent:
    """One event as Bugsink stored it: ``data`` is the payload the SDK sent."""

    event_id: str
    issue: str
    data: dict[str, Any]

    @property
    def level(self) -> Optional[str]:
        return self.data.get("level")

    @property
    def message(self) -> Optional[str]:
        """The formatted message, from ``logentry`` or the legacy ``message`` field."""
        for key in ("logentry", "sentry.interfaces.Message", "message"):
            value = self.data.get(key)
            if isinstance(value, dict):
                value = value.get("formatted") or value.get("message")
            if value:
                return str(value)
        return None

    @property
    def exceptions(self) -> list[dict[str, Any]]:
        """The exception values, oldest cause first (the protocol's order)."""
        exc = self.data.get("exception") or self.data.get("sentry.interfaces.Exception") or {}
        values = exc.get("values") if isinstance(exc, dict) else exc
        return [v for v in values or [] if isinstance(v, dict)]

    @property
    def tags(self) -> dict[str, Any]:
        tags = self.data.get("tags") or {}
        if isinstance(tags, list):  # also valid: [[key, value], ...]
            return {pair[0]: pair[1] for pair in tags if isinstance(pair, (list, tuple)) and len(pair) == 2}
        return dict(tags)

    def frames(self, index: int = -1) -> list[dict[str, Any]]:
        """The stack frames of exception value ``index`` (default: the last, the one raised), oldest first."""
        values = self.exceptions
        if not values:
            return []
        return list(((values[index].get("stacktrace") or {}).get("frames")) or [])

    def function_names(self, index: int = -1) -> list[Optional[str]]:
        return [frame.get("function") for frame in self.frames(index)]


class BugsinkProject:
    """One Bugsink project: its DSN, and what it stored."""

    def __init__(self, api: BugsinkApi, project_id: int, dsn: str) -> None:
        self.api = api
        self.project_id = project_id
        self.dsn = dsn

    def __repr__(self) -> str:
        return f"BugsinkProject({self.project_id}, {self.dsn!r})"

    def lookup(self, event_id: str) -> Optional[StoredEvent]:
        """The stored event with this id, or None."""
        try:
            event = self.api.get("/events/lookup/", project=self.project_id, event_id=uuid.UUID(event_id).hex)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return _stored(event)

    def wait_for_event(self, event_id: str, timeout: float = 10.0) -> StoredEvent:
        """Poll until the event is stored; AssertionError when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.lookup(event_id)
            if event is not None:
                return event
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"event {event_id} not stored in Bugsink project {self.project_id} after {timeout:g}s "
                    f"({self.count()} event(s) stored)"
                )
            time.sleep(0.1)

    def count(self) -> int:
        """How many events the project stores now."""
        return int(self.api.get(f"/projects/{self.project_id}/")["stored_event_count"])

    def wait_for_count(self, expected: int, timeout: float = 30.0) -> int:
        """Poll until at least ``expected`` events are stored or ``timeout`` passes; return the count."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.count()
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.2)

    def events(self) -> list[StoredEvent]:
        """Every stored event, in ingest order."""
        listed = [
            event
            for issue in self.api.pages("/issues/", project=self.project_id, state="all")
            for event in self.api.pages("/events/", issue=issue["id"], order="asc")
        ]
        listed.sort(key=lambda event: str(event["ingested_at"]))
        return [_stored(self.api.get(f"/events/{event['id']}/")) for event in listed]


def _stored(event: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        uuid.UUID(str(event["event_id"])).hex, str(event["issue"]), dict(event.get("data") or {})
    )
