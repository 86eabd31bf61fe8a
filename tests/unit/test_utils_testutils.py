"""raven.utils.testutils: raven 6.10's InMemoryClient and TestCase."""

from __future__ import annotations

import unittest

import pytest

from raven.base import Client
from raven.utils.testutils import BaseTestCase, InMemoryClient, TestCase


def test_in_memory_client_is_a_client_that_needs_no_dsn() -> None:
    client = InMemoryClient(install_sys_hook=False, install_logging_hook=False)
    assert isinstance(client, Client)
    assert client.is_enabled()
    assert client.events == []
    client.send(message="direct", level=40)
    assert client.events == [{"message": "direct", "level": 40}]


def test_in_memory_client_keeps_captured_events() -> None:
    client = InMemoryClient(install_sys_hook=False, install_logging_hook=False)
    client.captureMessage("hello")
    try:
        raise ValueError("boom")
    except ValueError:
        client.captureException()
    assert len(client.events) == 2
    message, error = client.events
    assert message["message"] == "hello"
    assert error["exception"]["values"][-1]["type"] == "ValueError"


def test_test_case_is_a_unittest_case_with_exam_fixtures() -> None:
    assert issubclass(TestCase, BaseTestCase) and BaseTestCase is unittest.TestCase
    exam = pytest.importorskip("exam")

    class Example(TestCase):
        @exam.fixture
        def value(self) -> list[int]:
            return [1]

        def test_fixture(self) -> None:
            self.value.append(2)
            self.assertEqual(self.value, [1, 2])

    result = unittest.TestResult()
    Example("test_fixture").run(result)
    assert result.wasSuccessful(), result.failures + result.errors
