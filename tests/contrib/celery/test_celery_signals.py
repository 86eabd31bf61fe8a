"""raven.contrib.celery's signal handlers in this process: Celery's eager mode runs a task through
the same tracer (and signals) as a worker; the client sends synchronously to a loopback server.

What arrived at the server is asserted: the task's name (transaction), id, args and kwargs
(extra), the exception, and that Sentry's normalizer accepts the event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pipeline import HOOKS_OFF, normalizer_errors
from servers import Answer, LoopbackServer

celery = pytest.importorskip("celery")

from celery import signals  # noqa: E402
from celery.exceptions import SoftTimeLimitExceeded  # noqa: E402

from raven import Client  # noqa: E402
from raven.contrib.celery import (  # noqa: E402
    CeleryFilter,
    SentryCeleryHandler,
    register_logger_signal,
    register_signal,
)
from raven.handlers.logging import SentryHandler  # noqa: E402
from raven.transport.http import HTTPTransport  # noqa: E402

_SIGNALS = (
    signals.task_prerun,
    signals.task_postrun,
    signals.task_failure,
    signals.after_setup_logger,
    signals.worker_process_shutdown,
)


@pytest.fixture(autouse=True)
def restore_signals() -> Iterator[None]:
    """Every receiver a test connects is gone after it."""
    saved = {signal: list(signal.receivers) for signal in _SIGNALS}
    yield
    for signal, receivers in saved.items():
        signal.receivers[:] = receivers
        signal.sender_receivers_cache.clear()


@pytest.fixture
def app() -> Iterator[Any]:
    app = celery.Celery("raven_ng_eager", set_as_current=False)
    app.conf.task_always_eager = True
    yield app
    app.close()


@pytest.fixture
def client(http_server: LoopbackServer) -> Iterator[Client]:
    client = Client(http_server.dsn(), transport=HTTPTransport, **HOOKS_OFF)
    yield client
    client.close(0)


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: None  # a lambda cannot be pickled


def test_a_failing_task_is_an_event_with_its_name_id_args_and_kwargs(
    app: Any, client: Client, http_server: LoopbackServer
) -> None:
    register_signal(client)

    @app.task(name="shop.charge")
    def charge(order: int, amount: int = 0) -> None:
        raise ValueError(f"card declined for order {order}")

    result = charge.delay(7, amount=30)
    charge.delay(8, amount=0).id  # noqa: B018  (a second one: the context is cleared in between)

    events = http_server.events()
    assert len(events) == 2
    event = events[0]
    assert event["transaction"] == "shop.charge"
    assert event["extra"]["task_id"] == result.id
    assert event["extra"]["args"] == [7]
    assert event["extra"]["kwargs"] == {"amount": 30}
    assert "shop.charge" in event["extra"]["task"]
    exception = event["exception"]["values"][-1]
    assert (exception["type"], exception["value"]) == ("ValueError", "card declined for order 7")
    assert exception["stacktrace"]["frames"][-1]["function"] == "charge"
    assert event["level"] == "error"
    assert "fingerprint" not in event
    assert normalizer_errors(event) in (None, [])
    assert events[1]["extra"]["args"] == [8]
    assert len(client.transaction) == 0  # popped by task_postrun


def test_ignore_expected_skips_the_exceptions_the_task_declares(
    app: Any, client: Client, http_server: LoopbackServer
) -> None:
    register_signal(client, ignore_expected=True)

    @app.task(name="shop.lookup", throws=(KeyError,))
    def lookup(key: str) -> None:
        raise KeyError(key) if key == "missing" else RuntimeError(key)

    lookup.delay("missing")
    lookup.delay("broken")

    events = http_server.events()
    assert [e["exception"]["values"][-1]["type"] for e in events] == ["RuntimeError"]


def test_without_ignore_expected_declared_exceptions_are_captured_too(
    app: Any, client: Client, http_server: LoopbackServer
) -> None:
    register_signal(client)

    @app.task(name="shop.lookup2", throws=(KeyError,))
    def lookup(key: str) -> None:
        raise KeyError(key)

    lookup.delay("missing")

    assert [e["exception"]["values"][-1]["type"] for e in http_server.events()] == ["KeyError"]


def test_a_soft_time_limit_is_grouped_per_task(app: Any, client: Client, http_server: LoopbackServer) -> None:
    register_signal(client)

    @app.task(name="shop.slow")
    def slow() -> None:
        raise SoftTimeLimitExceeded()

    slow.delay()

    (event,) = http_server.events()
    assert event["fingerprint"] == ["celery", "SoftTimeLimitExceeded", "shop.slow"]
    assert normalizer_errors(event) in (None, [])


def test_an_exception_celery_cannot_pickle_is_reported_as_itself(
    app: Any, client: Client, http_server: LoopbackServer
) -> None:
    # Celery hands the signal a picklable stand-in (UnpickleableExceptionWrapper).
    register_signal(client, ignore_expected=True)

    @app.task(name="shop.odd", throws=(Unpicklable,))
    def odd() -> None:
        raise Unpicklable("odd")

    @app.task(name="shop.odd2")
    def odd2() -> None:
        raise Unpicklable("odd again")

    odd.delay()  # declared: skipped, although the signal only has the stand-in
    odd2.delay()

    (event,) = http_server.events()
    exception = event["exception"]["values"][-1]
    assert (exception["type"], exception["value"]) == ("Unpicklable", "odd again")


def test_a_failure_signal_sent_outside_an_except_block(client: Client, http_server: LoopbackServer) -> None:
    handler = SentryCeleryHandler(client)
    try:
        raise LookupError("gone")
    except LookupError as exc:
        caught = exc
    handler.process_failure_signal(
        sender=None, task_id="abc", args=(1,), kwargs={}, einfo=None, exception=caught
    )

    (event,) = http_server.events()
    assert event["exception"]["values"][-1]["type"] == "LookupError"
    assert event["extra"]["task_id"] == "abc"


def test_nothing_raises_into_celery_when_capturing_fails(app: Any) -> None:
    class Broken(Client):
        def captureException(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
            raise RuntimeError("client broken")

    handler = SentryCeleryHandler(Broken(**HOOKS_OFF))
    handler.install()
    try:

        @app.task(name="shop.fails")
        def fails() -> None:
            raise ValueError("x")

        result = fails.delay()
        assert isinstance(result.result, ValueError)
    finally:
        handler.uninstall()


def test_uninstall_disconnects(app: Any, client: Client, http_server: LoopbackServer) -> None:
    handler = SentryCeleryHandler(client)
    handler.install()
    handler.uninstall()

    @app.task(name="shop.quiet")
    def quiet() -> None:
        raise ValueError("x")

    quiet.delay()
    assert http_server.events() == []


def test_logger_signal_adds_a_handler_that_skips_celerys_own_failure_log(
    app: Any, client: Client, http_server: LoopbackServer
) -> None:
    register_signal(client)
    register_logger_signal(client)
    logger = logging.getLogger("celery.app.trace")  # where Celery logs a task's failure
    before = list(logger.handlers)
    try:
        signals.after_setup_logger.send(
            sender=None, logger=logger, loglevel=logging.INFO, logfile=None, format="", colorize=False
        )
        (added,) = [h for h in logger.handlers if h not in before]
        assert isinstance(added, SentryHandler) and added.level == logging.ERROR
        assert [type(f) for f in added.filters] == [CeleryFilter]

        @app.task(name="shop.refund")
        def refund() -> None:
            raise ValueError("refund failed")

        refund.delay()
        logger.error("the broker went away")
        logger.warning("below the handler's level")

        events = http_server.events()
        assert len(events) == 2  # the failure once (register_signal), and the error record
        assert events[0]["exception"]["values"][-1]["value"] == "refund failed"
        assert events[1]["logentry"]["formatted"] == "the broker went away"
        assert events[1]["logger"] == "celery.app.trace"
        assert normalizer_errors(events[1]) in (None, [])
    finally:
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)


def test_logger_signal_keeps_an_existing_sentry_handler(client: Client) -> None:
    register_logger_signal(client)
    logger = logging.getLogger("raven_ng_tests.celery_existing")
    existing = SentryHandler(client)
    logger.addHandler(existing)
    try:
        signals.after_setup_logger.send(
            sender=None, logger=logger, loglevel=logging.INFO, logfile=None, format="", colorize=False
        )
        assert logger.handlers == [existing]
        assert [type(f) for f in existing.filters] == [CeleryFilter]
    finally:
        logger.removeHandler(existing)


@pytest.mark.parametrize(
    ("func_name", "data", "passes"),
    [
        ("_log_error", {"internal": False}, False),  # Celery's log of a task failure
        ("_log_error", {"internal": True}, True),  # Celery's own internal error
        ("_log_error", None, False),
        ("handle", {"internal": False}, False),
        ("handle", None, True),
        ("handle", "not a dict", True),
    ],
)
def test_celery_filter(func_name: str, data: Any, passes: bool) -> None:
    record = logging.LogRecord("celery.app.trace", logging.ERROR, __file__, 1, "msg", (), None, func_name)
    if data is not None:
        record.data = data
    assert CeleryFilter().filter(record) is passes


def test_a_pool_child_exit_delivers_what_is_queued_and_closes_the_client(http_server: LoopbackServer) -> None:
    # worker_process_shutdown is what billiard's child sends right before os._exit.
    http_server.default = Answer(delay=0.3)
    client = Client(http_server.dsn(query="shutdown_timeout=3"), **HOOKS_OFF)  # threaded transport
    register_signal(client)
    client.captureMessage("queued when the child is told to exit")

    signals.worker_process_shutdown.send(sender="worker@host", pid=123, exitcode=0)

    assert client.delivery_stats()["sent"] == 1  # the reply came before the signal returned
    assert len(http_server.events()) == 1
    assert client.captureMessage("after the close") is None
