"""raven.utils.compat: raven 6.10's Python 2/3 shims keep their names with Python 3 meanings."""

from __future__ import annotations

import http.client
import sys
import types
import urllib.parse
import urllib.request
import warnings
from queue import Queue

import pytest

from raven.utils import compat


def test_text_and_number_types_are_python3_builtins() -> None:
    assert compat.PY3 and not compat.PY2
    assert compat.text_type is str
    assert compat.binary_type is bytes
    assert compat.string_types == (str,)
    assert compat.integer_types == (int,)
    assert compat.class_types == (type,)
    assert isinstance("x", compat.string_types) and not isinstance(b"x", compat.string_types)


def test_dict_iteration_helpers_return_iterators() -> None:
    d = {"a": 1, "b": 2}
    assert list(compat.iteritems(d)) == [("a", 1), ("b", 2)]
    assert list(compat.iterkeys(d)) == ["a", "b"]
    assert list(compat.itervalues(d)) == [1, 2]
    assert iter(compat.iteritems(d)) is not None and not isinstance(compat.iteritems(d), list)

    class MultiDict(dict):  # type: ignore[type-arg]
        def lists(self) -> list[tuple[str, list[int]]]:
            return [("a", [1, 2])]

    assert list(compat.iterlists(MultiDict())) == [("a", [1, 2])]


def test_stdlib_module_aliases() -> None:
    assert compat.urlparse is urllib.parse
    assert compat.urlparse.urlparse("https://h/p?q=1").query == "q=1"
    assert compat.urllib2 is urllib.request
    assert compat.httplib is http.client
    assert compat.Queue is Queue
    assert compat.urllib_quote("/a b") == "/a%20b"
    assert issubclass(compat.HTTPError, OSError)


def test_bytes_text_and_io_helpers() -> None:
    assert compat.b("abc") == b"abc"
    assert compat.u("abc") == "abc"
    buffer = compat.BytesIO()
    buffer.write(b"x")
    assert buffer.getvalue() == b"x"
    assert compat.StringIO("y").read() == "y"
    assert compat.next(iter([5])) == 5 and compat.advance_iterator(iter([6])) == 6
    assert compat.callable(len) and not compat.callable(1)
    assert compat.Iterator is object  # raven's iterator classes define __next__ themselves


def test_exec_reraise_and_raise_from() -> None:
    namespace: dict[str, object] = {}
    compat.exec_("x = 40 + 2", namespace)
    assert namespace["x"] == 42

    try:
        raise KeyError("k")
    except KeyError:
        tb = sys.exc_info()[2]
    with pytest.raises(ValueError) as raised:
        compat.reraise(ValueError, ValueError("v"), tb)
    assert raised.value.__traceback__ is not None
    with pytest.raises(TypeError):
        compat.reraise(TypeError, None)

    cause = OSError("cause")
    with pytest.raises(RuntimeError) as raised_from:
        compat.raise_from(RuntimeError("outer"), cause)
    assert raised_from.value.__cause__ is cause


def test_get_code() -> None:
    def f() -> None:
        pass

    assert compat.get_code(f) is f.__code__
    with pytest.raises(TypeError, match="int"):
        compat.get_code(1)


@pytest.mark.parametrize(
    ("opt", "warns"),
    [
        ({"enable-threads": b"0"}, True),  # uWSGI gives option values as bytes
        ({"enable-threads": "false"}, True),
        ({}, True),
        ({"enable-threads": True}, False),
        ({"threads": b"4"}, False),
    ],
)
def test_check_threads_warns_under_uwsgi_without_threads(
    monkeypatch: pytest.MonkeyPatch, opt: dict[str, object], warns: bool
) -> None:
    uwsgi = types.ModuleType("uwsgi")
    uwsgi.opt = {"master": True, **opt}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", uwsgi)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compat.check_threads()
    assert bool(caught) is warns
    if warns:
        assert "enable-threads" in str(caught[0].message)


def test_check_threads_is_silent_outside_uwsgi() -> None:
    assert "uwsgi" not in sys.modules
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_threads()
