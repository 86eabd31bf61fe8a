"""Helpers of the framework integration tests (``tests/contrib/<framework>/``): a real WSGI server
(wsgiref on 127.0.0.1, in a thread), plain HTTP requests to it, a real raven Client delivering to
a :class:`servers.LoopbackServer`, and the checks every event that arrives must pass.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import threading
import wsgiref.simple_server
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pipeline import HOOKS_OFF, normalizer_errors
from servers import LoopbackServer

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(os.path.dirname(TESTS_DIR), "src")


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return io.StringIO()  # wsgiref prints the application's tracebacks here


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def http_request(
    port: int,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    host: str = "127.0.0.1",
) -> Reply:
    """One request on a new connection; a reply cut short by the application's error gives what was read."""
    connection = http.client.HTTPConnection(host, port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        try:
            data = response.read()
        except http.client.IncompleteRead as exc:
            data = exc.partial
        return Reply(response.status, dict(response.getheaders()), data)
    finally:
        connection.close()


class WSGIServer:
    """wsgiref serving ``app`` on 127.0.0.1 in a thread (one request at a time, like a worker)."""

    def __init__(self, app: WSGIApp) -> None:
        self.httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        return http_request(self.port, method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: bytes, content_type: str, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Content-Type"] = content_type
        return self.request("POST", path, body=body, headers=headers, **kwargs)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def sentry_client(server: LoopbackServer, **options: Any) -> Any:
    """A real raven Client delivering synchronously to ``server`` (no global hooks left behind)."""
    from raven.base import Client
    from raven.transport.http import HTTPTransport

    for key, value in HOOKS_OFF.items():
        options.setdefault(key, value)
    return Client(server.dsn(), transport=HTTPTransport, **options)


def wait_for_events(server: LoopbackServer, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The events ``server`` received, once there are ``count`` (AssertionError after ``timeout``)."""
    server.wait_until(
        lambda requests: sum(len(r.events()) for r in requests) >= count, timeout, f"{count} events"
    )
    events = server.events()
    for event in events:
        check_event(event)
    return events


def check_event(event: dict[str, Any]) -> None:
    """What every event that reaches the server must be: valid for Sentry's own normalizer."""
    errors = normalizer_errors(event)
    assert not errors, f"Sentry's normalizer rejects part of the event: {errors}"


def only_exception(event: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = event["exception"]["values"][-1]
    return value


def run_python(
    code: str, timeout: float = 60, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (this one, with ``src`` and ``tests`` importable)."""
    return _run([sys.executable, "-c", code], timeout, env)


def run_script(path: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the script ``path`` with ``args`` as :func:`run_python` runs code."""
    return _run([sys.executable, path, *args], timeout, None)


def _run(command: list[str], timeout: float, env: Optional[dict[str, str]]) -> subprocess.CompletedProcess:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([SRC_DIR, TESTS_DIR, environ.get("PYTHONPATH", "")])
    for name in [name for name in environ if name.startswith("SENTRY_")]:
        del environ[name]
    environ.update(env or {})
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environ, check=False)


def json_lines(output: str) -> list[Any]:
    """Every line of ``output`` that is a JSON document, parsed."""
    parsed = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith(("{", "[")):
            parsed.append(json.loads(line))
    return parsed
