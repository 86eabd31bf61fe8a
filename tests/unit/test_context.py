"""raven.context and raven.breadcrumbs: per-thread context, bounded breadcrumbs, logging and httplib hooks."""

from __future__ import annotations

import logging
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from raven import breadcrumbs
from raven.breadcrumbs import BlackholeBreadcrumbBuffer, BreadcrumbBuffer, make_buffer
from raven.context import Context, TransactionStack, get_active_contexts


@pytest.fixture
def ctx() -> Iterator[Context]:
    context = Context()
    yield context
    context.clear(deactivate=True)


@pytest.fixture
def clean_log_callbacks() -> Iterator[None]:
    saved_global = list(breadcrumbs.special_logging_handlers)
    saved_named = dict(breadcrumbs.special_logger_handlers)
    yield
    breadcrumbs.special_logging_handlers[:] = saved_global
    breadcrumbs.special_logger_handlers.clear()
    breadcrumbs.special_logger_handlers.update(saved_named)


def run_in_thread(func: Any) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        result["value"] = func()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return result["value"]


# -- Context


def test_context_is_a_mapping_with_raven_merge_semantics(ctx: Context) -> None:
    ctx.merge({"tags": {"a": 1}, "user": {"id": 1}})
    ctx.merge({"tags": {"b": 2}, "extra": {"x": 1}, "user": {"id": 2}})
    assert dict(ctx) == {"tags": {"a": 1, "b": 2}, "user": {"id": 2}, "extra": {"x": 1}}
    assert ctx["user"] == {"id": 2}
    assert len(ctx) == 3
    assert ctx.get() is ctx.data
    ctx.set({"only": True})
    assert ctx.get() == {"only": True}
    ctx.clear()
    assert ctx.get() == {}


def test_context_data_is_per_thread(ctx: Context) -> None:
    ctx.merge({"tags": {"where": "main"}})
    assert run_in_thread(lambda: dict(ctx.get())) == {}
    assert ctx.get() == {"tags": {"where": "main"}}


def test_a_context_is_active_in_each_thread_that_uses_it(ctx: Context) -> None:
    assert ctx in get_active_contexts()

    def other() -> bool:
        ctx.merge({"x": 1})
        return ctx in get_active_contexts()

    assert run_in_thread(other) is True


def test_context_as_context_manager_activates_and_deactivates(ctx: Context) -> None:
    ctx.deactivate()
    assert ctx not in get_active_contexts()
    with ctx:
        assert ctx in get_active_contexts()
    assert ctx not in get_active_contexts()


def test_record_reaches_only_the_active_contexts_of_the_thread(ctx: Context) -> None:
    inactive = Context()
    inactive.deactivate()
    breadcrumbs.record(message="hello", category="test")
    assert [c["message"] for c in ctx.breadcrumbs.get_buffer()] == ["hello"]
    assert inactive.breadcrumbs.get_buffer() == []
    run_in_thread(lambda: breadcrumbs.record(message="elsewhere"))
    assert len(ctx.breadcrumbs.get_buffer()) == 1


def test_clear_deactivates_outside_the_clients_main_thread() -> None:
    class FakeClient:
        enable_breadcrumbs = True
        main_thread_id = threading.get_ident()

    client = FakeClient()
    context = Context(client)  # type: ignore[arg-type]

    def in_worker() -> bool:
        context.merge({"x": 1})
        context.clear()
        return context in get_active_contexts()

    assert run_in_thread(in_worker) is False
    context.clear()
    assert context in get_active_contexts()
    context.deactivate()


# -- BreadcrumbBuffer


def test_buffer_keeps_the_newest_crumbs() -> None:
    buffer = BreadcrumbBuffer(limit=5)
    for i in range(12):
        buffer.record(message=f"m{i}")
    assert [c["message"] for c in buffer.get_buffer()] == ["m7", "m8", "m9", "m10", "m11"]


def test_buffer_formats_and_collapses_duplicates() -> None:
    buffer = BreadcrumbBuffer(message_max_length=10)
    buffer.record(message="x" * 50, level="WARN", category="c" * 300, timestamp=12)
    buffer.record(message="same", data={"k": 1})
    buffer.record(message="same", data={"k": 1})
    crumbs = buffer.get_buffer()
    assert crumbs[0] == {
        "type": "default",
        "timestamp": 12.0,
        "level": "warning",
        "message": "x" * 10,
        "category": "c" * 128,
    }
    assert len(crumbs) == 2 and crumbs[1]["data"] == {"k": 1}


def test_buffer_runs_processors_lazily_and_survives_failures() -> None:
    buffer = BreadcrumbBuffer()
    calls: list[int] = []

    def processor(data: dict[str, Any]) -> None:
        calls.append(1)
        data["message"] = "filled in"

    def broken(data: dict[str, Any]) -> None:
        raise RuntimeError("bad processor")

    buffer.record(processor=processor)
    buffer.record(processor=broken)
    assert calls == []
    assert [c["message"] for c in buffer.get_buffer()] == ["filled in"]


def test_empty_crumb_is_ignored_not_raised() -> None:
    buffer = BreadcrumbBuffer()
    buffer.record()
    assert buffer.get_buffer() == []


def test_disabled_buffer_keeps_nothing() -> None:
    buffer = make_buffer(False)
    assert isinstance(buffer, BlackholeBreadcrumbBuffer)
    buffer.record(message="x")
    buffer.append_log(1.0, logging.INFO, "l", "m", ())
    assert buffer.get_buffer() == []


# -- logging hook


def test_logging_hook_records_every_call_once(ctx: Context) -> None:
    breadcrumbs.install_logging_hook()
    breadcrumbs.install_logging_hook()
    patched = logging.Logger.info
    assert getattr(patched, "__patched_for_raven__", False)
    log = logging.getLogger("ctxtest.hook")
    log.setLevel(logging.DEBUG)
    log.debug("value %s", 42)
    log.error("bad %(what)s", {"what": "thing"})
    logging.getLogger("raven.something").warning("own diagnostics are not crumbs")
    logging.getLogger("sentry.errors").warning("neither")
    crumbs = ctx.breadcrumbs.get_buffer()
    assert [(c["message"], c["level"], c["category"]) for c in crumbs] == [
        ("value 42", "debug", "ctxtest.hook"),
        ("bad thing", "error", "ctxtest.hook"),
    ]
    assert crumbs[1]["data"] == {"what": "thing"}  # a dict argument is the crumb's data (raven 6.10)
    assert logging.Logger.info is patched


def test_logging_hook_records_calls_below_the_loggers_level_too(ctx: Context) -> None:
    # raven 6.10: what happened before an error is worth a crumb even when logging drops it.
    breadcrumbs.install_logging_hook()
    log = logging.getLogger("ctxtest.disabled")
    log.setLevel(logging.WARNING)
    log.info("dropped by logging, still a crumb", extra={"order": 7})
    [crumb] = ctx.breadcrumbs.get_buffer()
    assert crumb["message"] == "dropped by logging, still a crumb" and crumb["level"] == "info"
    assert crumb["data"] == {"order": 7}


def test_logging_still_reports_the_callers_file_and_line(ctx: Context) -> None:
    breadcrumbs.install_logging_hook()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    log = logging.getLogger("ctxtest.caller")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = Keep()
    log.addHandler(handler)
    try:
        log.info("where am I")
        line = sys._getframe().f_lineno - 1
        try:
            raise ValueError("x")
        except ValueError:
            log.exception("and here")
            exc_line = sys._getframe().f_lineno - 1
    finally:
        log.removeHandler(handler)
    assert [(r.filename, r.lineno, r.funcName) for r in seen] == [
        ("test_context.py", line, "test_logging_still_reports_the_callers_file_and_line"),
        ("test_context.py", exc_line, "test_logging_still_reports_the_callers_file_and_line"),
    ]


def test_logging_hook_survives_bad_format_arguments(ctx: Context) -> None:
    breadcrumbs.install_logging_hook()
    log = logging.getLogger("ctxtest.badargs")
    log.setLevel(logging.INFO)
    log.propagate = False  # pytest's capture handler would report the bad arguments as an error
    log.addHandler(logging.NullHandler())
    log.info("%d items", "not a number")
    assert ctx.breadcrumbs.get_buffer()[0]["message"] == "%d items"


def test_ignore_logger_and_special_handlers(ctx: Context, clean_log_callbacks: None) -> None:
    breadcrumbs.install_logging_hook()
    breadcrumbs.ignore_logger("ctxtest.noisy", allow_level=logging.ERROR)
    seen: list[Any] = []
    breadcrumbs.register_logging_handler(lambda logger, level, msg, args, kwargs: seen.append(msg) or False)
    breadcrumbs.register_special_log_handler(
        logging.getLogger("ctxtest.special"), lambda logger, level, msg, args, kwargs: True
    )
    noisy = logging.getLogger("ctxtest.noisy")
    noisy.setLevel(logging.DEBUG)
    noisy.warning("ignored")
    noisy.error("allowed through")
    special = logging.getLogger("ctxtest.special")
    special.setLevel(logging.DEBUG)
    special.warning("handled by its callback")
    assert [c["message"] for c in ctx.breadcrumbs.get_buffer()] == ["allowed through"]
    assert seen == ["ignored", "allowed through", "handled by its callback"]


# -- library hooks


def test_httplib_hook_records_requests(ctx: Context, http_server: Any) -> None:
    breadcrumbs.hook_libraries(["httplib"])
    with urllib.request.urlopen(f"{http_server.url}/some/page?q=1", timeout=10) as response:
        response.read()
    with urllib.request.urlopen(
        urllib.request.Request(f"{http_server.url}/api/1/envelope/", data=b"{}", method="POST"), timeout=10
    ) as response:
        response.read()
    crumbs = [c for c in ctx.breadcrumbs.get_buffer() if c.get("type") == "http"]
    assert len(crumbs) == 1
    assert crumbs[0]["category"] == "httplib"
    assert crumbs[0]["data"] == {
        "url": f"{http_server.url}/some/page?q=1",
        "method": "GET",
        "status_code": 200,
        "reason": "OK",
    }


def test_unknown_library_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="raven.errors"):
        breadcrumbs.hook_libraries(["no-such-library"])
    assert "no-such-library" in caplog.text


# -- TransactionStack


def test_transaction_stack() -> None:
    stack = TransactionStack()
    assert stack.peek() is None
    stack.push("/a")
    with stack("/b"):
        assert stack.peek() == "/b"
        assert list(stack) == ["/a", "/b"]
        assert run_in_thread(stack.peek) is None
    assert stack.peek() == "/a"
    assert stack.pop() == "/a"
    assert len(stack) == 0
    assert stack.pop() is None


def test_merge_ignores_bad_input(ctx: Context) -> None:
    ctx.merge("not a mapping")  # type: ignore[arg-type]
    ctx.merge({"tags": "not a mapping either"})
    assert ctx.get() == {"tags": "not a mapping either"}
