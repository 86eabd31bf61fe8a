"""raven.scripts.runner: raven 6.10's send_test_message / store_json, as Django's command used them."""

from __future__ import annotations

import optparse
from typing import Any

import pytest

import raven
from raven.base import Client
from raven.cli import TEST_MESSAGE
from raven.scripts import runner
from raven.utils.testutils import InMemoryClient

QUIET: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def test_send_test_message_reports_config_and_sends(capsys: pytest.CaptureFixture[str]) -> None:
    client = InMemoryClient(dsn="http://public:secret@127.0.0.1:9/42", **QUIET)
    event_id = runner.send_test_message(client, {"tags": {"via": "django"}, "data": None})
    out = capsys.readouterr().out
    assert "base_url" in out and "http://127.0.0.1:9" in out and "42" in out
    assert "secret" not in out.replace("secret_key", "")  # the secret is not printed
    assert f"Event ID was {event_id!r}" in out
    [event] = client.events
    assert event["event_id"] == event_id
    assert event["tags"]["via"] == "django"
    text = str(event.get("message") or event.get("logentry", {}).get("message"))
    assert text == TEST_MESSAGE


def test_send_test_message_exits_1_without_a_dsn(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        runner.send_test_message(Client(**QUIET), {})
    assert exited.value.code == 1
    assert "DSN configuration is not valid" in capsys.readouterr().out


def test_store_json_is_an_optparse_callback() -> None:
    parser = optparse.OptionParser()
    parser.add_option("--data", action="callback", callback=runner.store_json, type="string", dest="data")
    options, _ = parser.parse_args(["--data", '{"culprit": "x"}'])
    assert options.data == {"culprit": "x"}
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--data", "{not json"])
    assert exited.value.code == 2  # optparse's usage error


def test_runner_names() -> None:
    assert runner.get_version is raven.get_version
    assert runner.Client is raven.Client
    assert runner.json.loads("[1]") == [1]
