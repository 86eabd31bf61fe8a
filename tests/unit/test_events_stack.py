"""exception_values / current_stacktrace: frames oldest first, chains, context lines, in_app."""

from __future__ import annotations

import json
import linecache
import os
import sys
import types
from typing import Any

import pytest

from raven.events import (
    DEFAULT_SETTINGS,
    EventSettings,
    current_stacktrace,
    exception_values,
    is_in_app,
)
from raven.events.stack import _filename

S = DEFAULT_SETTINGS


def capture(func: Any, *args: Any, settings: EventSettings = S, **kwargs: Any) -> list[dict[str, Any]]:
    try:
        func(*args)
    except BaseException:
        return exception_values(sys.exc_info(), settings, **kwargs)
    raise AssertionError("did not raise")


def inner(secret: str) -> None:
    local_number = 42
    local_list = [1, 2, 3]
    local_number += len(local_list)
    raise ValueError("inner failed: " + secret)  # MARK-INNER


def outer() -> None:
    token = "abc"
    inner(token)  # MARK-OUTER


def line_of(marker: str) -> int:
    for i, line in enumerate(linecache.getlines(__file__), 1):
        if line.rstrip().endswith("# " + marker):
            return i
    raise AssertionError(marker)


def test_frames_oldest_first_with_lineno_and_context() -> None:
    values = capture(outer)
    assert len(values) == 1
    exc = values[0]
    assert exc["type"] == "ValueError"
    assert exc["value"] == "inner failed: abc"
    assert exc["module"] == "builtins"
    assert exc["mechanism"] == {"type": "generic", "handled": True}
    frames = exc["stacktrace"]["frames"]
    assert [f["function"] for f in frames] == ["capture", "outer", "inner"]
    assert frames[1]["lineno"] == line_of("MARK-OUTER")
    assert frames[2]["lineno"] == line_of("MARK-INNER")
    assert frames[2]["context_line"].strip().endswith("# MARK-INNER")
    assert frames[1]["context_line"].strip() == "inner(token)  # MARK-OUTER"
    assert len(frames[2]["pre_context"]) == 5
    assert frames[2]["pre_context"][-1].strip() == "local_number += len(local_list)"
    assert frames[2]["post_context"][0] == ""
    for f in frames:
        assert f["abs_path"] == __file__
        assert f["module"] == __name__
        assert f["filename"].endswith("test_events_stack.py")
        assert not os.path.isabs(f["filename"])
        assert f["in_app"] is True


def test_frame_vars_are_safe_and_optional() -> None:
    frames = capture(outer)[0]["stacktrace"]["frames"]
    assert frames[2]["vars"] == {"secret": "abc", "local_number": 45, "local_list": [1, 2, 3]}
    assert frames[1]["vars"] == {"token": "abc"}
    json.dumps(frames, allow_nan=False)

    frames = capture(outer, settings=EventSettings(capture_locals=False))[0]["stacktrace"]["frames"]
    assert all("vars" not in f for f in frames)


def test_hostile_locals() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    def f() -> None:
        bad = Bad()
        nan = float("nan")
        cyc: list[Any] = []
        cyc.append(cyc)
        huge = "x" * 10_000_000
        assert bad and nan and cyc and huge
        raise KeyError("k")

    frames = capture(f)[0]["stacktrace"]["frames"]
    v = frames[-1]["vars"]
    assert v["bad"] == "<unprintable Bad object>"
    assert v["nan"] == "nan"
    assert v["cyc"] == ["<cyclic>"]
    assert len(v["huge"]) <= S.string_max_length
    json.dumps(v, allow_nan=False)


def test_explicit_cause_order_and_mechanism() -> None:
    def f() -> None:
        try:
            raise KeyError("root")
        except KeyError as e:
            raise RuntimeError("wrapped") from e

    values = capture(f, handled=False, mechanism_type="excepthook")
    assert [v["type"] for v in values] == ["KeyError", "RuntimeError"]
    assert values[0]["mechanism"] == {"type": "excepthook", "handled": False, "source": "__cause__"}
    assert values[1]["mechanism"] == {"type": "excepthook", "handled": False}
    assert values[0]["stacktrace"]["frames"][-1]["function"] == "f"


def test_implicit_context_chain_of_three() -> None:
    def f() -> None:
        try:
            try:
                raise ValueError("one")
            except ValueError:
                raise TypeError("two")  # noqa: B904
        except TypeError:
            raise OSError("three")  # noqa: B904

    values = capture(f)
    assert [v["value"] for v in values] == ["one", "two", "three"]
    assert [v["mechanism"].get("source") for v in values] == ["__context__", "__context__", None]


def test_suppressed_context_is_not_reported() -> None:
    def f() -> None:
        try:
            raise ValueError("hidden")
        except ValueError:
            raise TypeError("shown") from None

    values = capture(f)
    assert [v["value"] for v in values] == ["shown"]


def test_context_cycle_terminates() -> None:
    a = ValueError("a")
    b = TypeError("b")
    a.__context__ = b
    b.__context__ = a
    values = exception_values((type(a), a, None), S)
    assert [v["value"] for v in values] == ["b", "a"]

    selfish = KeyError("self")
    selfish.__cause__ = selfish
    assert len(exception_values(selfish, S)) == 1


def test_long_chain_is_bounded() -> None:
    exc: BaseException = ValueError("0")
    for i in range(1, 200):
        nxt = ValueError(str(i))
        nxt.__context__ = exc
        exc = nxt
    values = exception_values(exc, S)
    assert values[-1]["value"] == "199"
    assert len(values) == 25


def test_exc_info_forms() -> None:
    assert exception_values(None, S) == []
    assert exception_values((None, None, None), S) == []
    e = ValueError("x")
    assert exception_values(e, S)[0]["value"] == "x"
    assert exception_values((ValueError, None, None), S) == [
        {
            "type": "ValueError",
            "value": "",
            "module": "builtins",
            "mechanism": {"type": "generic", "handled": True},
        }
    ]
    old_style = exception_values((ValueError, "a string value", None), S)
    assert old_style[0]["value"] == "a string value"
    try:
        raise KeyError("current")
    except KeyError:
        assert exception_values(True, S)[0]["type"] == "KeyError"
        assert exception_values(None, S)[0]["type"] == "KeyError"


def test_hostile_exception() -> None:
    class Evil(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

        @property
        def __cause__(self) -> Any:  # type: ignore[override]
            raise RuntimeError("no cause")

    def f() -> None:
        raise Evil()

    values = capture(f)
    assert values[-1]["type"] == "Evil"
    # str() failed: the repr stands in.
    assert values[-1]["value"] == "Evil()"
    assert values[-1]["module"] == __name__


def test_exception_value_length_is_bounded() -> None:
    values = exception_values(ValueError("v" * 100_000), S)
    assert len(values[0]["value"]) == 8192


def test_traceback_hide_frames_are_skipped() -> None:
    def hidden() -> None:
        __traceback_hide__ = True  # noqa: F841
        outer()

    frames = capture(hidden)[0]["stacktrace"]["frames"]
    assert [f["function"] for f in frames] == ["capture", "outer", "inner"]


def recurse(n: int) -> None:
    if n == 0:
        raise RecursionError("deep")
    recurse(n - 1)


def test_deep_stack_keeps_both_ends() -> None:
    settings = EventSettings(max_frames=50, max_frames_with_vars=5)
    frames = capture(recurse, 300, settings=settings)[0]["stacktrace"]["frames"]
    assert len(frames) == 50
    assert frames[0]["function"] == "capture"
    assert frames[-1]["function"] == "recurse"
    assert frames[-1]["vars"] == {"n": 0}
    assert frames[-5]["vars"] == {"n": 4}
    assert "vars" not in frames[-6]
    assert all("vars" not in f for f in frames[:-5])
    # The middle was dropped: the 25 oldest and the 25 innermost frames remain.
    assert [f["vars"]["n"] for f in frames[-5:]] == [4, 3, 2, 1, 0]
    assert frames[1]["lineno"] == frames[24]["lineno"]


def test_context_follows_the_file_when_it_changes(tmp_path: Any) -> None:
    path = tmp_path / "changing_mod.py"
    path.write_text("def boom():\n    raise ValueError('v1')  # version one\n")
    code = compile(path.read_text(), str(path), "exec")
    namespace: dict[str, Any] = {"__name__": "changing_mod"}
    exec(code, namespace)
    frame = capture(namespace["boom"])[0]["stacktrace"]["frames"][-1]
    assert frame["context_line"].endswith("# version one")
    assert frame["filename"] == "changing_mod.py"

    path.write_text("def boom():\n    raise ValueError('v1')  # version two\n")
    os.utime(path, (1, 1))
    linecache.checkcache(str(path))
    frame = capture(namespace["boom"])[0]["stacktrace"]["frames"][-1]
    assert frame["context_line"].endswith("# version two")


def test_frames_without_source() -> None:
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile("def boom():\n    raise ValueError('x')\n", "<generated>", "exec"), namespace)
    frame = capture(namespace["boom"])[0]["stacktrace"]["frames"][-1]
    assert frame["abs_path"] == "<generated>"
    assert frame["lineno"] == 2
    assert "context_line" not in frame
    assert frame["module"] == "generated"


def test_in_app_rules() -> None:
    assert is_in_app("myapp.views", "/srv/myapp/views.py") is True
    assert is_in_app("requests.api", "/venv/lib/python3.11/site-packages/requests/api.py") is False
    assert is_in_app("foo", "/usr/lib/python3/dist-packages/foo.py") is False
    assert is_in_app("os", os.__file__) is False
    assert is_in_app("importlib._bootstrap", "<frozen importlib._bootstrap>") is False
    assert is_in_app("__main__", "<stdin>") is True
    assert is_in_app("raven.base", "/srv/raven/base.py") is False
    # include/exclude by module prefix beat the path rule; the longest prefix wins.
    site = "/venv/lib/python3.11/site-packages/mylib/x.py"
    assert is_in_app("mylib.x", site, frozenset({"mylib"})) is True
    assert is_in_app("myapp.x", "/srv/myapp/x.py", frozenset(), frozenset({"myapp"})) is False
    inc, exc = frozenset({"myapp"}), frozenset({"myapp.vendor"})
    assert is_in_app("myapp.views", "/srv/myapp/views.py", inc, exc) is True
    assert is_in_app("myapp.vendor.lib", "/srv/myapp/vendor/lib.py", inc, exc) is False
    assert is_in_app("myapp.x", "/srv/myapp/x.py", frozenset({"myapp"}), frozenset({"myapp"})) is False


def test_in_app_uses_settings() -> None:
    settings = EventSettings(exclude_paths=frozenset({__name__}))
    frames = capture(outer, settings=settings)[0]["stacktrace"]["frames"]
    assert all(f["in_app"] is False for f in frames)


def test_filename_relative_to_import_root() -> None:
    sep = os.sep
    assert _filename("pkg.sub.mod", sep.join(["", "x", "pkg", "sub", "mod.py"])) == sep.join(
        ["pkg", "sub", "mod.py"]
    )
    assert _filename("pkg.sub", sep.join(["", "x", "pkg", "sub", "__init__.py"])) == sep.join(
        ["pkg", "sub", "__init__.py"]
    )
    assert _filename("__main__", sep.join(["", "home", "u", "script.py"])) == "script.py"
    assert _filename(None, "<string>") == "<string>"


def test_current_stacktrace_is_the_callers_stack() -> None:
    def here() -> dict[str, Any]:
        marker_local = "m"
        assert marker_local
        return current_stacktrace(S)

    frames = here()["frames"]
    assert frames[-1]["function"] == "here"
    assert frames[-2]["function"] == "test_current_stacktrace_is_the_callers_stack"
    assert frames[-1]["vars"] == {"marker_local": "m"}
    assert frames[-1]["context_line"].strip() == "return current_stacktrace(S)"
    assert len(frames) > 3  # pytest's own frames come first (oldest)


def test_current_stacktrace_drops_the_innermost_raven_frames() -> None:
    fake = types.ModuleType("raven.fake_capture")
    exec(
        "from raven.events import current_stacktrace, DEFAULT_SETTINGS\n"
        "def capture_message():\n"
        "    return current_stacktrace(DEFAULT_SETTINGS)\n",
        fake.__dict__,
    )

    def user_code() -> dict[str, Any]:
        result: dict[str, Any] = fake.capture_message()
        return result

    frames = user_code()["frames"]
    assert frames[-1]["function"] == "user_code"
    kept = user_code.__code__  # the user's frame is the last one
    assert frames[-1]["lineno"] == kept.co_firstlineno + 1

    frames = current_stacktrace(S, frame=sys._getframe(), skip_modules=())
    assert frames["frames"][-1]["function"] == "test_current_stacktrace_drops_the_innermost_raven_frames"


def test_current_stacktrace_without_locals() -> None:
    frames = current_stacktrace(EventSettings(capture_locals=False))["frames"]
    assert frames and all("vars" not in f for f in frames)


def test_module_level_frames_skip_definitions() -> None:
    namespace: dict[str, Any] = {"__name__": "script_like"}
    src = (
        "import os\nCONFIG = {'debug': True}\n"
        "def helper():\n    pass\nclass K:\n    pass\nraise ValueError('top')\n"
    )
    try:
        exec(compile(src, "<script_like>", "exec"), namespace)
    except ValueError:
        values = exception_values(sys.exc_info(), S)
    frame = values[0]["stacktrace"]["frames"][-1]
    assert frame["function"] == "<module>"
    assert frame["vars"] == {"CONFIG": {"debug": True}}


def test_odd_traceback_objects() -> None:
    class FakeTb:
        tb_next = None

        @property
        def tb_frame(self) -> Any:
            raise AttributeError("celery-style hacked traceback")

    values = exception_values((ValueError, ValueError("x"), FakeTb()), S)
    assert values[0]["type"] == "ValueError"
    assert "stacktrace" not in values[0]


needs_groups = pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are 3.11+")


def raise_group() -> None:
    def task_a() -> None:
        raise ValueError("a failed")

    def task_b() -> None:
        try:
            raise KeyError("root of b")
        except KeyError as e:
            raise TypeError("b failed") from e

    errors: list[Exception] = []
    for task in (task_a, task_b):
        try:
            task()
        except Exception as e:
            errors.append(e)
    raise ExceptionGroup("two tasks failed", errors)  # noqa: F821


@needs_groups
def test_exception_group_tree() -> None:
    values = capture(raise_group, handled=False, mechanism_type="excepthook")
    assert [v["type"] for v in values] == ["KeyError", "TypeError", "ValueError", "ExceptionGroup"]
    group = values[-1]
    assert group["mechanism"] == {
        "type": "excepthook",
        "handled": False,
        "exception_id": 0,
        "is_exception_group": True,
    }
    by_id = {v["mechanism"]["exception_id"]: v for v in values}
    a = next(v for v in values if v["type"] == "ValueError")
    b = next(v for v in values if v["type"] == "TypeError")
    root = next(v for v in values if v["type"] == "KeyError")
    assert a["mechanism"]["parent_id"] == 0 and a["mechanism"]["source"] == "exceptions[0]"
    assert b["mechanism"]["parent_id"] == 0 and b["mechanism"]["source"] == "exceptions[1]"
    assert by_id[root["mechanism"]["parent_id"]] is b
    assert root["mechanism"]["source"] == "__cause__"
    assert all(v["mechanism"]["type"] == "chained" for v in values[:-1])
    assert a["stacktrace"]["frames"][-1]["function"] == "task_a"


@needs_groups
def test_huge_exception_group_is_bounded() -> None:
    def f() -> None:
        raise ExceptionGroup("many", [ValueError(str(i)) for i in range(1000)])  # noqa: F821

    values = capture(f)
    assert len(values) == 25
    assert values[-1]["type"] == "ExceptionGroup"
