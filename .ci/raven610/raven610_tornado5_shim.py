"""pytest plugin: the Tornado 4/5 names raven 6.10.0's Tornado tests use, put back on Tornado 6.

Loaded with ``-p raven610_tornado5_shim`` by ``contrib.py`` for the raven-ng
run and the raven 6.10.0 run alike. raven 6.10's ``tests/contrib/tornado/tests.py`` decorates its
handlers with ``tornado.web.asynchronous`` and ``tornado.gen.engine`` and waits with
``tornado.gen.Task``, all removed in Tornado 6: without them the module cannot be imported on any
raven. The stand-ins keep those names' meaning on Tornado 6 and change nothing of the code under
test:

* ``gen.Task(func, *args, **kwargs)``: calls ``func(*args, callback=..., **kwargs)`` and returns a
  future resolved with the value the callback gets;
* ``gen.engine``: runs the generator as a coroutine (``gen.coroutine``) and returns its future;
* ``web.asynchronous``: returns what the method returns, which Tornado 6 awaits (a handler that
  finishes the response itself, as the tests' do, then behaves as under Tornado 5).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

try:
    from tornado import gen, web
    from tornado.concurrent import Future
except ImportError:  # pragma: no cover - without Tornado the tests are not importable anyway
    gen = web = None  # type: ignore[assignment]


def _task(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    future: Any = Future()

    def callback(result: Any = None) -> None:
        if not future.done():
            future.set_result(result)

    func(*args, callback=callback, **kwargs)
    return future


def _engine(func: Callable[..., Any]) -> Callable[..., Any]:
    return gen.coroutine(func)


def _asynchronous(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, **kwargs)

    return wrapper


if gen is not None:
    if not hasattr(gen, "Task"):
        gen.Task = _task  # type: ignore[attr-defined]
    if not hasattr(gen, "engine"):
        gen.engine = _engine  # type: ignore[attr-defined]
    if not hasattr(web, "asynchronous"):
        web.asynchronous = _asynchronous  # type: ignore[attr-defined]
