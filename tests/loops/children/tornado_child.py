"""Tornado scenarios for tests/loops/test_tornado.py: the asyncio child's scenarios, run by
``IOLoop.run_sync`` (Tornado 6 runs on asyncio), with ``tornado`` as the library."""

from __future__ import annotations

import warnings
from typing import Any, Awaitable, Callable

import asyncio_child


def ioloop_run(main: Callable[[], Awaitable[None]]) -> None:
    from tornado.ioloop import IOLoop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # IOLoop.current() without a running loop
        loop: Any = IOLoop.current()
    loop.run_sync(main, timeout=90)


asyncio_child.FAMILY.library = "tornado"
asyncio_child.FAMILY.run = ioloop_run

if __name__ == "__main__":
    asyncio_child.main()
