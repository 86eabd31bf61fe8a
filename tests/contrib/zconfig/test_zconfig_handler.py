"""raven.contrib.zconfig: a ZConfig logging configuration with raven's ``<sentry>`` section (in a
child process) installs a SentryHandler with the section's options; what it logs at or above
its level reaches a loopback Sentry server with those options applied."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("ZConfig")

from contrib_support import json_lines, only_exception, run_script, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zconfig_child.py")


def test_sentry_section() -> None:
    with LoopbackServer() as server:
        result = run_script(CHILD, server.dsn(), timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]
        [handler] = json_lines(result.stdout)
        warning, error = wait_for_events(server, 2)

    assert handler["level"] == 30
    assert handler["include_paths"] == ["other.package", "zconfig_child"]
    assert handler["string_max_length"] == 64
    assert len(server.events()) == 2  # not the INFO record
    for event in (warning, error):
        assert (event["release"], event["environment"], event["server_name"]) == (
            "zconfig-1.0",
            "zconfig-test",
            "zconfig-host",
        )
        assert event["logger"] == "zconfig.app"
    assert warning["level"] == "warning"
    assert warning["logentry"]["formatted"] == "warned through ZConfig"
    assert error["level"] == "error"
    assert only_exception(error)["type"] == "KeyError"
