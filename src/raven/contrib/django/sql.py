"""raven 6.10's SQL breadcrumbs: each query Django runs becomes a ``query`` breadcrumb with its
parameters filled in (``SELECT ... WHERE id = 42``), so an event shows the queries before it.

``install_sql_hook()`` (once per process; ``DjangoClient`` calls it unless built with
``install_sql_hook=False``) wraps ``CursorWrapper.execute`` / ``executemany``. The breadcrumb's
text is only formatted when an event is sent. Parameters: ``None`` as ``NULL``, text quoted
(cut at 256 characters), anything else as its ``repr``; a ``%(name)s`` query takes a dict.

Better than raven 6.10: ``executemany`` records at most the last 100 parameter sets (the
breadcrumb buffer keeps 100 anyway; 6.10 built one closure per row of a bulk insert), and a
generator of parameters, which the database consumed, is not iterated again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Callable, Optional

from raven import breadcrumbs
from raven.utils import once

__all__ = ("format_sql", "install_sql_hook", "record_sql")

_MAX_PARAM_LENGTH = 256
_MAX_MANY = 100


class _FormatConverter:
    """``sql % converter`` turns ``%(name)s`` into ``%s`` and notes the parameters in order."""

    def __init__(self, param_mapping: Mapping[Any, Any]) -> None:
        self.param_mapping = param_mapping
        self.params: list[Any] = []

    def __getitem__(self, val: Any) -> str:
        self.params.append(self.param_mapping.get(val))
        return "%s"


def _literal(param: Any) -> str:
    if param is None:
        return "NULL"
    if isinstance(param, (str, bytes)):
        text = param.decode("utf-8", "replace") if isinstance(param, bytes) else param
        if len(text) > _MAX_PARAM_LENGTH:
            text = text[:_MAX_PARAM_LENGTH] + "\u2026"
        return "'" + text.replace("'", "''") + "'"
    return repr(param)


def format_sql(sql: Any, params: Any) -> tuple[Any, list[str]]:
    """``(sql, [parameter literals])``; a dict of parameters turns ``%(name)s`` into ``%s``."""
    if isinstance(params, Mapping):
        if params:
            converter = _FormatConverter(params)
            sql = sql % converter
            params = converter.params
        else:
            params = ()
    return sql, [_literal(param) for param in params or ()]


def record_sql(vendor: Any, alias: Any, start: Any, duration: Any, sql: Any, params: Any) -> None:
    """Record one query as a breadcrumb (its text is built when an event is sent)."""

    def processor(data: dict[str, Any]) -> None:
        real_sql, real_params = format_sql(sql, params)
        if real_params:
            try:
                real_sql = real_sql % tuple(real_params)
            except (TypeError, ValueError):
                pass
        data.update({"message": real_sql, "category": "query"})

    breadcrumbs.record(processor=processor)


def _wrap_execute(real: Callable[..., Any]) -> Callable[..., Any]:
    def execute(self: Any, sql: Any, params: Optional[Any] = None) -> Any:
        start = time.time()
        try:
            return real(self, sql, params)
        finally:
            _record_safely(self, start, sql, [params])

    execute.__raven_sql_hook__ = True  # type: ignore[attr-defined]
    return execute


def _wrap_executemany(real: Callable[..., Any]) -> Callable[..., Any]:
    def executemany(self: Any, sql: Any, param_list: Any) -> Any:
        start = time.time()
        try:
            return real(self, sql, param_list)
        finally:
            if isinstance(param_list, (list, tuple)):
                _record_safely(self, start, sql, param_list[-_MAX_MANY:])

    executemany.__raven_sql_hook__ = True  # type: ignore[attr-defined]
    return executemany


def _record_safely(cursor: Any, start: float, sql: Any, param_sets: Any) -> None:
    try:
        db = cursor.db
        vendor, alias = db.vendor, getattr(db, "alias", None)
        duration = time.time() - start
        for params in param_sets:
            record_sql(vendor, alias, start, duration, sql, params)
    except Exception:
        pass  # a breadcrumb is never worth an error in the application's query


@once
def install_sql_hook() -> None:
    """Make Django's queries breadcrumbs (once per process)."""
    from django.db.backends.utils import CursorWrapper

    execute = getattr(CursorWrapper, "execute", None)
    executemany = getattr(CursorWrapper, "executemany", None)
    if execute is None or executemany is None or getattr(execute, "__raven_sql_hook__", False):
        return
    CursorWrapper.execute = _wrap_execute(execute)
    CursorWrapper.executemany = _wrap_executemany(executemany)
    breadcrumbs.ignore_logger("django.db.backends")
