"""raven 6.10's small helpers: ``merge_dicts``, ``varmap``, ``memoize``, ``once``, ``is_namedtuple``.

``varmap`` is the one the processors use (:func:`raven.processors.varmap`), re-exported here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any, Callable, Generic, Optional, TypeVar, overload

from raven.processors import varmap

__all__ = ("merge_dicts", "varmap", "memoize", "once", "is_namedtuple")

T = TypeVar("T")


def merge_dicts(*dicts: Optional[Mapping[Any, Any]]) -> dict[Any, Any]:
    """One new dict with the items of every given dict, later ones winning; empty ones skipped."""
    merged: dict[Any, Any] = {}
    for d in dicts:
        if d:
            merged.update(d.items())
    return merged


class memoize(Generic[T]):  # noqa: N801  (raven 6.10's name)
    """A method computed once per instance, then read as an attribute.

    >>> class A:
    ...     @memoize
    ...     def answer(self):
    ...         return 42
    >>> A().answer
    42

    The value is stored in the instance's ``__dict__`` under the method's name, so later reads
    do not call the descriptor at all (and assigning the attribute replaces the value).
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.__name__ = func.__name__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, obj: None, owner: Optional[type] = None) -> memoize[T]: ...

    @overload
    def __get__(self, obj: object, owner: Optional[type] = None) -> T: ...

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        values = vars(obj)
        name = self.__name__
        if name not in values:
            values[name] = self.func(obj)
        return values[name]


def once(func: Callable[..., T]) -> Callable[..., Optional[T]]:
    """Wrap ``func`` so that only its first successful call runs; later calls return None.

    Thread-safe: concurrent first calls run ``func`` once. A call that raises does not count.
    The wrapper's ``called`` attribute says whether it has run.
    """
    lock = threading.Lock()

    @functools.wraps(func)
    def run_once(*args: Any, **kwargs: Any) -> Optional[T]:
        if run_once.called:  # type: ignore[attr-defined]
            return None
        with lock:
            if run_once.called:  # type: ignore[attr-defined]
                return None
            result = func(*args, **kwargs)
            run_once.called = True  # type: ignore[attr-defined]
            return result

    run_once.called = False  # type: ignore[attr-defined]
    return run_once


def is_namedtuple(value: object) -> bool:
    """True for instances of ``collections.namedtuple`` classes (and their subclasses)."""
    if not isinstance(value, tuple):
        return False
    fields = getattr(type(value), "_fields", None)
    return isinstance(fields, tuple) and all(type(name) is str for name in fields)
