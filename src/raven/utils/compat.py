"""raven 6.10's Python 2/3 shims, kept by name with their Python 3 meanings.

Code written for raven imports these (``from raven.utils.compat import string_types, urlparse``);
on Python 3 each is the builtin or standard-library object it stood for: ``text_type`` is
``str``, ``string_types`` is ``(str,)``, ``iteritems(d)`` is ``iter(d.items())``, ``urlparse``
is :mod:`urllib.parse`, ``urllib2`` is :mod:`urllib.request`, ``httplib`` is
:mod:`http.client`. ``check_threads`` keeps raven's warning for uWSGI run without threads.
"""

from __future__ import annotations

import builtins
import http.client as httplib
import io
import sys
import urllib.parse as urlparse
import urllib.request as urllib2
import warnings
from queue import Queue
from types import CodeType
from typing import Any, NoReturn, Optional
from urllib.error import HTTPError
from urllib.parse import quote as urllib_quote

__all__ = (
    "PY2",
    "PY3",
    "BytesIO",
    "HTTPError",
    "Iterator",
    "Queue",
    "StringIO",
    "advance_iterator",
    "b",
    "binary_type",
    "callable",
    "check_threads",
    "class_types",
    "exec_",
    "get_code",
    "httplib",
    "integer_types",
    "iteritems",
    "iterkeys",
    "iterlists",
    "itervalues",
    "next",
    "raise_from",
    "reraise",
    "string_types",
    "text_type",
    "u",
    "urllib2",
    "urllib_quote",
    "urlparse",
)

PY2 = False
PY3 = True

string_types: tuple[type, ...] = (str,)
integer_types: tuple[type, ...] = (int,)
class_types: tuple[type, ...] = (type,)
text_type = str
binary_type = bytes

advance_iterator = builtins.next
next = builtins.next
callable = builtins.callable

#: On Python 3 a plain ``object``: raven's iterator classes define ``__next__`` themselves.
Iterator = object

StringIO = io.StringIO
BytesIO = io.BytesIO

exec_ = builtins.exec


def iterkeys(d: Any, **kw: Any) -> Any:
    return iter(d.keys(**kw))


def itervalues(d: Any, **kw: Any) -> Any:
    return iter(d.values(**kw))


def iteritems(d: Any, **kw: Any) -> Any:
    return iter(d.items(**kw))


def iterlists(d: Any, **kw: Any) -> Any:
    """``d.lists()`` of a multi-value dict (werkzeug's ``MultiDict``, Django's ``QueryDict``)."""
    return iter(d.lists(**kw))


def b(s: str) -> bytes:
    """A byte string from a text literal (latin-1, as six did)."""
    return s.encode("latin-1")


def u(s: str) -> str:
    """A text string: already one on Python 3."""
    return s


def reraise(tp: Optional[type], value: Optional[BaseException], tb: Any = None) -> NoReturn:
    """Raise ``value`` (or ``tp()``) with traceback ``tb``."""
    if value is None:
        assert tp is not None
        value = tp()
    if value.__traceback__ is not tb:
        raise value.with_traceback(tb)
    raise value


def raise_from(value: BaseException, from_value: Optional[BaseException]) -> NoReturn:
    """``raise value from from_value``."""
    raise value from from_value


def get_code(func: Any) -> CodeType:
    """The code object of a function; TypeError for anything without one."""
    code = getattr(func, "__code__", None)
    if code is None:
        raise TypeError(f"Could not get code from {type(func).__name__!r}")
    return code


def check_threads() -> None:
    """Warn when running under uWSGI with threads disabled: background transports would stall."""
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is None:
        try:
            import uwsgi  # type: ignore[no-redef]
        except ImportError:
            return
    opt = getattr(uwsgi, "opt", None)
    if not opt or "threads" in opt:
        # ``threads`` implies ``enable-threads``.
        return
    enabled = opt.get("enable-threads", "0")
    if isinstance(enabled, bytes):
        enabled = enabled.decode("latin-1")
    if str(enabled).lower() in ("false", "off", "no", "0"):
        warnings.warn(
            "uWSGI runs with threads disabled: the background thread that sends events to Sentry "
            "will not run. Start uWSGI with --enable-threads (or --threads N).",
            RuntimeWarning,
            stacklevel=2,
        )
