"""raven.contrib.celery in a real worker: prefork pool children, a real Redis broker, a loopback
Sentry server in the test process.

The worker runs ``celery_app`` (``register_signal`` and ``register_logger_signal`` on one client)
in a subprocess: ``celery -A celery_app worker --pool=prefork --concurrency=2``. Every test stops
its workers (and Redis at the end of the module) whatever happens, and every wait is bounded.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from pipeline import normalizer_errors
from servers import LoopbackServer, refused_port

pytest.importorskip("celery")

N_TASKS = 4


def wait_for_events(server: LoopbackServer, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    server.wait_until(
        lambda requests: sum(len(r.events()) for r in requests) >= count, timeout, f"{count} events"
    )
    return server.events()


def test_failing_tasks_reach_the_server_from_children_that_exit_after_each_task(
    start_worker: Any, producer: Any, http_server: LoopbackServer
) -> None:
    # --max-tasks-per-child=1: every child exits (os._exit) right after its one task, and its
    # parent kills it with SIGTERM as soon as it says so. raven 6.10 lost such events.
    worker = start_worker("each", http_server.dsn(), "--max-tasks-per-child=1")
    worker.wait_ready()

    sent = [
        producer.send_task("tests.fail", args=[order], kwargs={"amount": 10 * order}, queue="each")
        for order in range(N_TASKS)
    ]
    shipped = producer.send_task("tests.log_error", args=["parcel-7"], queue="each")

    wait_for_events(http_server, N_TASKS + 1)
    assert shipped.get(timeout=30) == "parcel-7"
    worker.stop()  # a warm shutdown: the remaining children exit and close too
    events = http_server.events()
    assert len(events) == N_TASKS + 1, worker.output()[-3000:]  # no duplicate from Celery's own log

    failures = sorted(
        (e for e in events if e.get("transaction") == "tests.fail"), key=lambda e: e["extra"]["args"]
    )
    assert len(failures) == N_TASKS
    for order, (event, result) in enumerate(zip(failures, sent)):
        exception = event["exception"]["values"][-1]
        assert exception["type"] == "ValueError"
        assert exception["value"] == f"order {order} failed"
        assert exception["stacktrace"]["frames"][-1]["function"] == "fail"
        assert event["extra"]["task_id"] == result.id
        assert event["extra"]["args"] == [order]
        assert event["extra"]["kwargs"] == {"amount": 10 * order}
        assert "tests.fail" in event["extra"]["task"]
        assert event["level"] == "error"
        assert event["release"] == "celery-test"
        assert normalizer_errors(event) in (None, [])

    (logged,) = [e for e in events if e.get("transaction") == "tests.log_error"]
    assert logged["logger"] == "tests.shipping"
    assert logged["logentry"]["formatted"] == "could not ship parcel-7"
    assert logged["level"] == "error"
    assert normalizer_errors(logged) in (None, [])


def _wait_gone(pids: list[int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
            assert time.monotonic() < deadline, f"pool child {pid} is still running"
            time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_child_waits_for_the_server_before_it_exits_and_without_that_the_event_is_lost(
    start_worker: Any, producer: Any
) -> None:
    # The Sentry server is down (connections refused) while the tasks fail and their children
    # exit; it comes up once the children of the control worker are gone. The children of the
    # worker whose client closes at the child's exit (raven-ng) are still waiting for it
    # (shutdown_timeout=5) and deliver; the control worker's children (the client taken off the
    # child-exit close: raven 6.10's behaviour) were killed with their events.
    holders = {name: refused_port() for name in ("hooked", "control")}
    servers: dict[str, LoopbackServer] = {}
    try:
        workers = {}
        for name, holder in holders.items():
            dsn = f"http://public@127.0.0.1:{holder.getsockname()[1]}/1?shutdown_timeout=5"
            workers[name] = start_worker(name, dsn, "--max-tasks-per-child=1", child_exit=(name == "hooked"))
        for worker in workers.values():
            worker.wait_ready()

        results = {
            name: [producer.send_task("tests.fail_in_child", queue=name) for _ in range(2)]
            for name in holders
        }
        pids = {
            name: [int(str(r.get(timeout=30, propagate=False))) for r in rs] for name, rs in results.items()
        }
        _wait_gone(pids["control"])  # killed by their parent right after saying they are done

        for name, holder in holders.items():
            port = holder.getsockname()[1]
            holder.close()
            servers[name] = LoopbackServer(port=port).start()

        delivered = wait_for_events(servers["hooked"], 2, timeout=10)
        _wait_gone(pids["hooked"])
        for worker in workers.values():
            worker.stop()

        assert sorted(int(e["exception"]["values"][-1]["value"]) for e in delivered) == sorted(pids["hooked"])
        assert len(servers["hooked"].events()) == 2
        assert servers["control"].events() == []
    finally:
        for holder in holders.values():
            holder.close()
        for server in servers.values():
            server.stop()
