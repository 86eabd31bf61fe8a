"""raven 6.10's test helpers: ``InMemoryClient`` (a client that keeps its events in a list) and
``TestCase`` (``unittest.TestCase`` with the ``exam`` package's fixtures when it is installed,
as raven's own tests used it).

>>> client = InMemoryClient()
>>> client.captureMessage('hello')
>>> client.events[0]['message']
'hello'
"""

from __future__ import annotations

import unittest
from typing import Any

import raven

__all__ = ("BaseTestCase", "Exam", "InMemoryClient", "TestCase")

BaseTestCase = unittest.TestCase

try:
    from exam import Exam
except ImportError:

    class Exam:  # type: ignore[no-redef]
        """Stands in for ``exam.Exam`` when the ``exam`` package is not installed (no fixtures)."""


class TestCase(Exam, BaseTestCase):
    """``unittest.TestCase`` with ``exam``'s ``@fixture`` / ``@before`` support when available."""


class InMemoryClient(raven.Client):
    """A client that needs no DSN: it is always enabled, and ``send`` appends each event (the
    keyword arguments ``send`` receives) to ``self.events`` instead of sending it."""

    def __init__(self, **kwargs: Any) -> None:
        self.events: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def is_enabled(self) -> bool:
        return True

    def send(self, **kwargs: Any) -> None:  # type: ignore[override]
        self.events.append(kwargs)
