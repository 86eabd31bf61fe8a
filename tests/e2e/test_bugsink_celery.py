"""A task failing in a real Celery worker (prefork pool, a child per task, a real Redis broker) is
stored by a real Bugsink server, with the task's name, id, args and kwargs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from bugsink_api import BugsinkProject

pytestmark = pytest.mark.e2e

pytest.importorskip("celery")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contrib" / "celery"))

from processes import CeleryWorker, RedisServer  # noqa: E402


def test_a_failing_task_in_a_real_worker_is_stored(bugsink_project: BugsinkProject, tmp_path: Path) -> None:
    from celery import Celery

    redis = RedisServer(tmp_path).start()
    env = {
        "RAVEN_TEST_BROKER": redis.url,
        "RAVEN_TEST_DSN": bugsink_project.dsn,
        "RAVEN_TEST_CHILD_EXIT": "1",
    }
    worker = CeleryWorker(tmp_path, "e2e", env, "-Q", "e2e", "--max-tasks-per-child=1")
    producer: Any = Celery("raven_ng_e2e_producer", broker=redis.url, backend=redis.url)
    try:
        worker.start()
        worker.wait_ready()
        result = producer.send_task("tests.fail", args=[42], kwargs={"amount": 5}, queue="e2e")
        assert isinstance(result.get(timeout=30, propagate=False), ValueError)

        assert bugsink_project.wait_for_count(1, timeout=30) == 1, worker.output()[-3000:]
        (stored,) = bugsink_project.events()
    finally:
        producer.close()
        worker.stop()
        redis.stop()

    assert stored.data["transaction"] == "tests.fail"
    assert stored.data["extra"]["task_id"] == result.id
    assert stored.data["extra"]["args"] == [42]
    assert stored.data["extra"]["kwargs"] == {"amount": 5}
    assert stored.data["release"] == "celery-test"
    exception = stored.exceptions[-1]
    assert (exception["type"], exception["value"]) == ("ValueError", "order 42 failed")
    assert stored.function_names()[-1] == "fail"
    assert stored.level == "error"
