"""Fixtures of the Celery tests: a real Redis broker and real Celery workers (see ``processes``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from processes import CeleryWorker, RedisServer  # noqa: E402


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Redis on a free 127.0.0.1 port for this module's tests; stopped at teardown."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


StartWorker = Callable[..., CeleryWorker]


@pytest.fixture
def start_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[StartWorker]:
    """``start_worker(name, dsn, *options, child_exit=True)``: a ready worker; all stopped at teardown."""
    workers: list[CeleryWorker] = []

    def start(name: str, dsn: str, *options: str, child_exit: bool = True) -> CeleryWorker:
        env = {
            "RAVEN_TEST_BROKER": redis_server.url,
            "RAVEN_TEST_DSN": dsn,
            "RAVEN_TEST_CHILD_EXIT": "1" if child_exit else "0",
        }
        worker = CeleryWorker(tmp_path, name, env, "-Q", name, *options)
        workers.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def producer(redis_server: RedisServer) -> Iterator[Any]:
    """A Celery app of the test process on the same broker, to send tasks by name."""
    from celery import Celery

    app = Celery("raven_ng_test_producer", broker=redis_server.url, backend=redis_server.url)
    app.conf.broker_connection_retry_on_startup = True
    try:
        yield app
    finally:
        app.close()
