"""The Celery application the worker tests run in a real worker (``celery -A celery_app worker``).

Configured from the environment the fixtures set: ``RAVEN_TEST_BROKER`` (a Redis URL, also the
result backend), ``RAVEN_TEST_DSN`` (the loopback Sentry server), ``RAVEN_TEST_CHILD_EXIT=0`` to
take the client off the child-exit close (the control case: raven 6.10's behaviour).
"""

from __future__ import annotations

import logging
import os

from celery import Celery

from raven import Client
from raven.contrib.celery import register_logger_signal, register_signal

broker = os.environ["RAVEN_TEST_BROKER"]
app = Celery("raven_ng_test", broker=broker, backend=broker)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=True,
    worker_send_task_events=False,
    task_acks_late=False,
    worker_prefetch_multiplier=1,
)

client = Client(os.environ["RAVEN_TEST_DSN"], install_sys_hook=False, release="celery-test")
register_signal(client)
register_logger_signal(client)
if os.environ.get("RAVEN_TEST_CHILD_EXIT") == "0":
    from raven.contrib.celery.child_exit import forget_at_child_exit

    forget_at_child_exit(client)


@app.task(name="tests.fail")
def fail(order_id: int, amount: int = 0) -> None:
    raise ValueError(f"order {order_id} failed")


@app.task(name="tests.log_error")
def log_error(parcel: str) -> str:
    logging.getLogger("tests.shipping").error("could not ship %s", parcel)
    return parcel


@app.task(name="tests.ok")
def ok(value: int) -> int:
    return value


@app.task(name="tests.fail_in_child")
def fail_in_child() -> None:
    # The pool child's pid in the message: the test waits until that child is gone.
    raise RuntimeError(str(os.getpid()))
