"""raven.contrib.zope: the ``<sentry>`` section in a ZConfig logger (in a child process),
and ZopeSentryHandler finding the request being published and the exception on the stack of the
log call, as Zope logs a failed request. Zope itself is not installed (the handler needs ZConfig,
AccessControl's users and the request interface): the request is a stand-in of ZPublisher's
HTTPRequest with the members the handler reads. What reaches the loopback Sentry server: the
exception, the request (URL, method, query string, body, headers), the user (id; nothing for
Zope's anonymous user)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("ZConfig")
pytest.importorskip("AccessControl")

from contrib_support import json_lines, only_exception, run_script, wait_for_events  # noqa: E402
from servers import LoopbackServer  # noqa: E402

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zope_child.py")


def test_zope_event_log() -> None:
    with LoopbackServer() as server:
        result = run_script(CHILD, server.dsn(), timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]
        [handler] = json_lines(result.stdout)
        editor, anonymous = wait_for_events(server, 2)

    assert handler == {"level": 40}  # ERROR by default
    assert len(server.events()) == 2  # not the warning
    for event in (editor, anonymous):
        exc = only_exception(event)
        assert (exc["type"], exc["value"]) == ("AttributeError", "edit_form")
        assert exc["stacktrace"]["frames"][-1]["function"] == "publish"
        assert event["logger"] == "Zope.SiteErrorLog"
        assert event["release"] == "zope-5"
        assert event["logentry"]["formatted"] == "http://zope.example.org/site/folder/edit"
    request = editor["request"]
    assert request["url"] == "http://zope.example.org/site/folder/edit"
    assert request["method"] == "POST"
    assert request["query_string"] in ("a=1", [["a", "1"]])
    assert request["data"] in ("title=New", {"title": "New"})
    assert request["headers"]["User-Agent"] == "zope-test/1"
    assert request["env"]["REMOTE_ADDR"] == "192.0.2.1"
    assert editor["user"]["id"] == "editor"
    assert "user" not in anonymous or not anonymous["user"].get("id")
