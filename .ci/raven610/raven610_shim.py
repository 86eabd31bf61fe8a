"""pytest plugin: what raven 6.10.0's own tests need to run on current Python and pytest.

Loaded with ``-p raven610_shim`` by ``.ci/raven610/suite.py`` (for the raven-ng run and the raven 6.10.0
reference run alike). It only puts back names that Python or pytest removed since raven 6.10's
tests were written (pytest 3.2, Python 2.7/3.6); it changes no behaviour of the code under test.
"""

from __future__ import annotations

import unittest
from typing import Any

import pytest


def _assert_dict_contains_subset(self: Any, subset: Any, dictionary: Any, msg: Any = None) -> None:
    # unittest's own implementation, removed in Python 3.12.
    missing = [key for key in subset if key not in dictionary]
    mismatched = [
        f"{key}, expected: {subset[key]!r}, actual: {dictionary[key]!r}"
        for key in subset
        if key in dictionary and subset[key] != dictionary[key]
    ]
    if missing or mismatched:
        parts = []
        if missing:
            parts.append("Missing: " + ",".join(repr(m) for m in missing))
        if mismatched:
            parts.append("Mismatched values: " + ",".join(mismatched))
        self.fail(self._formatMessage(msg, "; ".join(parts)))


_ALIASES = {
    # removed in Python 3.12 (deprecated since 3.2)
    "assertEquals": unittest.TestCase.assertEqual,
    "assertNotEquals": unittest.TestCase.assertNotEqual,
    "assertAlmostEquals": unittest.TestCase.assertAlmostEqual,
    "assertNotAlmostEquals": unittest.TestCase.assertNotAlmostEqual,
    "assert_": unittest.TestCase.assertTrue,
    "failUnless": unittest.TestCase.assertTrue,
    "failIf": unittest.TestCase.assertFalse,
    "failUnlessEqual": unittest.TestCase.assertEqual,
    "failIfEqual": unittest.TestCase.assertNotEqual,
    "failUnlessRaises": unittest.TestCase.assertRaises,
    "assertRaisesRegexp": unittest.TestCase.assertRaisesRegex,
    "assertRegexpMatches": unittest.TestCase.assertRegex,
    "assertNotRegexpMatches": unittest.TestCase.assertNotRegex,
    "assertDictContainsSubset": _assert_dict_contains_subset,
    # Python 2 only name
    "assertItemsEqual": unittest.TestCase.assertCountEqual,
}

for _name, _func in _ALIASES.items():
    if not hasattr(unittest.TestCase, _name):
        setattr(unittest.TestCase, _name, _func)


def _get_marker(self: Any, name: str) -> Any:
    # pytest < 4 ``Node.get_marker``; raven's conftest uses it in an autouse fixture.
    return self.get_closest_marker(name)


if not hasattr(pytest.Item, "get_marker"):
    pytest.Item.get_marker = _get_marker  # type: ignore[attr-defined]
