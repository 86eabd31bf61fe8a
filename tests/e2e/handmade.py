"""Hand-made ingest requests (gzip envelopes, store bodies) with urllib: no raven-ng involved.

Used to check the Bugsink fixture on its own, and to warm up a fresh server.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
import uuid
from typing import Any


def _auth(dsn: str) -> str:
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    return f"Sentry sentry_version=7, sentry_client=e2e-fixture/1.0, sentry_key={key}"


def _endpoint(dsn: str, kind: str) -> str:
    scheme, rest = dsn.split("//", 1)
    host_path = rest.split("@", 1)[1]
    host, project_id = host_path.rsplit("/", 1)
    return f"{scheme}//{host}/api/{project_id}/{kind}/"


def make_event(message: str) -> dict[str, Any]:
    """A small, valid warning event with a fresh id."""
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": "2026-01-02T03:04:05Z",
        "platform": "python",
        "level": "warning",
        "logger": "e2e.fixture",
        "release": "fixture-1",
        "environment": "e2e",
        "server_name": "fixture-host",
        "logentry": {"message": message, "formatted": message},
        "tags": {"kind": "hand-made"},
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


def post_envelope(dsn: str, event: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """POST ``event`` as a gzip envelope; return the status and the (lower-cased) headers."""
    payload = json.dumps(event).encode()
    envelope = b"\n".join(
        [
            json.dumps({"event_id": event["event_id"], "dsn": dsn}).encode(),
            json.dumps({"type": "event", "length": len(payload)}).encode(),
            payload,
        ]
    )
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": _auth(dsn),
    }
    return _post(_endpoint(dsn, "envelope"), gzip.compress(envelope), headers)


def post_store(dsn: str, event: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """POST ``event`` gzipped to the legacy store endpoint; return the status and the headers."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "X-Sentry-Auth": _auth(dsn)}
    return _post(_endpoint(dsn, "store"), gzip.compress(json.dumps(event).encode()), headers)
