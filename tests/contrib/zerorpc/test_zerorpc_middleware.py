"""raven.contrib.zerorpc's SentryMiddleware in a real zerorpc server (request/reply and push/pull,
over ipc sockets, in a child process: zerorpc runs on gevent), with the events at a loopback
Sentry server of this process: the exception the remote method raised, its stacktrace starting
at the method (zerorpc's frames hidden), and the caller still getting its RemoteError."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("zerorpc")
pytest.importorskip("gevent")

from contrib_support import json_lines, only_exception, run_script, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zerorpc_child.py")


def test_server_exceptions_are_reported() -> None:
    with LoopbackServer() as server:
        result = run_script(CHILD, server.dsn(), timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        [seen] = json_lines(result.stdout)
        events = wait_for_events(server, 2)

    assert seen["reqrep_error"] == "IndexError"  # the caller still gets the error
    assert len(events) == 2
    for event in events:
        exc = only_exception(event)
        assert exc["type"] == "IndexError"
        frames = exc["stacktrace"]["frames"]
        assert (frames[0]["function"], frames[0]["module"]) == ("choice", "random")
        assert not any(frame.get("module", "").startswith("zerorpc") for frame in frames)
