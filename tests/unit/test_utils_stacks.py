"""raven.utils.stacks: raven 6.10's frame iterators and get_stack_info, on real frames and on
frame-like objects (hidden frames, odd f_locals, long stacks)."""

from __future__ import annotations

import os
import sys
import types
from typing import Any, Optional

from raven.utils.stacks import (
    get_frame_locals,
    get_lines_from_file,
    get_stack_info,
    iter_stack_frames,
    iter_traceback_frames,
    slim_frame_data,
    slim_string,
    to_dict,
)


class FakeCode:
    def __init__(self, filename: str, name: str) -> None:
        self.co_filename = filename
        self.co_name = name


class FakeFrame:
    def __init__(self, f_locals: Any, filename: str = "0", globals_: Optional[dict[str, Any]] = None) -> None:
        self.f_locals = f_locals
        self.f_globals = globals_ if globals_ is not None else {}
        self.f_code = FakeCode(filename, "fn")
        self.f_lineno = None


class MappingLike:
    """An f_locals that is not a dict (as some template engines make)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def keys(self) -> Any:
        return self.data.keys()


def _hidden_helper() -> Any:
    __traceback_hide__ = True  # noqa: F841
    return list(iter_stack_frames())


def _raise_through_hidden() -> None:
    __traceback_hide__ = True  # noqa: F841
    raise ValueError("deep")


def test_iter_traceback_frames_skips_hidden_frames() -> None:
    try:
        _raise_through_hidden()
    except ValueError:
        tb = sys.exc_info()[2]
    frames = list(iter_traceback_frames(tb))
    names = [frame.f_code.co_name for frame, _ in frames]
    assert names == ["test_iter_traceback_frames_skips_hidden_frames"]
    assert frames[0][1] == tb.tb_lineno  # type: ignore[union-attr]


def test_iter_stack_frames_is_oldest_first_from_the_caller() -> None:
    def inner() -> Any:
        return list(iter_stack_frames())

    frames = inner()
    names = [frame.f_code.co_name for frame, _ in frames]
    assert names[-1] == "inner"
    assert names[-2] == "test_iter_stack_frames_is_oldest_first_from_the_caller"
    assert "iter_stack_frames" not in names
    assert all(isinstance(lineno, int) for _, lineno in frames)
    # A helper marked __traceback_hide__ does not appear in the stack it walks.
    assert "_hidden_helper" not in [f.f_code.co_name for f, _ in _hidden_helper()]


def test_iter_stack_frames_from_inspect_records() -> None:
    frame = sys._getframe()
    record = (frame, "file", 42, "fn", None, None)
    assert list(iter_stack_frames([record])) == [(frame, 42)]


def test_get_stack_info_on_real_frames() -> None:
    def inner() -> Any:
        secret_value = "hello"  # noqa: F841
        return get_stack_info(iter_stack_frames())

    frames = inner()["frames"]
    last = frames[-1]
    assert last["function"] == "inner"
    assert last["module"] == __name__
    assert last["abs_path"] == __file__
    # Relative to the directory above the module's top package, as raven 6.10 made it.
    assert last["filename"].endswith("test_utils_stacks.py") and not os.path.isabs(last["filename"])
    assert last["vars"]["secret_value"] == "'hello'"  # raven 6.10's serializer form
    assert "get_stack_info(iter_stack_frames())" in last["context_line"]
    assert 'secret_value = "hello"' in last["pre_context"][-1]
    assert len(last["post_context"]) <= 5


def test_get_stack_info_without_locals_and_with_a_transformer() -> None:
    frame = sys._getframe()
    plain = get_stack_info([frame], capture_locals=False)["frames"][0]
    assert "vars" not in plain
    assert plain["lineno"] == frame.f_lineno - 2  # the line of the call above
    local_value = [1, 2]  # noqa: F841
    custom = get_stack_info([(frame, frame.f_lineno)], transformer=lambda v: "X")["frames"][0]
    assert custom["vars"]["local_value"] == "X"


def test_get_stack_info_reads_mapping_like_locals_and_skips_hidden() -> None:
    odd = FakeFrame(MappingLike({"foo": "bar", "biz": "baz"}), filename=__file__)
    hidden = FakeFrame({"__traceback_hide__": True})
    frames = get_stack_info([(odd, 1), (hidden, 1)])["frames"]
    assert len(frames) == 1
    assert frames[0]["vars"] == {"foo": "'bar'", "biz": "'baz'"}
    assert frames[0]["module"] is None and frames[0]["filename"] == __file__
    assert frames[0]["context_line"].startswith('"""raven.utils.stacks')


def test_frame_allowance_slims_the_middle_but_keeps_every_frame() -> None:
    frames = [(FakeFrame({"k": "v"}, filename=str(i)), 1) for i in range(10)]
    result = get_stack_info(frames, frame_allowance=4)["frames"]
    assert [f["filename"] for f in result] == [str(i) for i in range(10)]
    assert [("vars" in f) for f in result] == [True, True] + [False] * 6 + [True, True]


def test_slim_frame_data_trims_library_frames_before_app_frames() -> None:
    frames = [{"in_app": i % 2 == 0, "vars": {}, "pre_context": [], "post_context": []} for i in range(30)]
    slim_frame_data(frames, frame_allowance=25)
    app = [f for f in frames if f["in_app"]]
    system = [f for f in frames if not f["in_app"]]
    assert all("vars" in f for f in app)  # the 15 app frames fit in the allowance
    # 5 frames too many: the middle 5 of the 15 library frames lose locals and context.
    assert ["vars" in f for f in system] == [True] * 5 + [False] * 5 + [True] * 5
    assert all("pre_context" not in f for f in system[5:10])
    assert slim_frame_data(frames[:3], frame_allowance=25) == frames[:3]


def test_get_lines_from_file(tmp_path: Any) -> None:
    path = tmp_path / "source.py"
    path.write_text("one\ntwo\nthree\r\nfour\nfive\n", encoding="utf-8")
    assert get_lines_from_file(str(path), 2, 1) == (["two"], "three", ["four"])
    assert get_lines_from_file(str(path), 99, 1) == (None, None, None)
    assert get_lines_from_file(str(tmp_path / "missing.py"), 1, 1) == (None, None, None)


def test_get_lines_from_file_uses_the_loader_and_survives_failing_ones() -> None:
    class Loader:
        def get_source(self, name: str) -> str:
            assert name == "virtual.module"
            return "a = 1\nb = 2\nc = 3\n"

    class FailingLoader:
        def get_source(self, name: str) -> str:
            raise ImportError("cannot")

    assert get_lines_from_file("/nonexistent/virtual.py", 1, 1, Loader(), "virtual.module") == (
        ["a = 1"],
        "b = 2",
        ["c = 3"],
    )
    assert get_lines_from_file("/nonexistent/other.py", 1, 1, FailingLoader(), "x") == (None, None, None)


def test_small_helpers() -> None:
    assert slim_string("x" * 600) == "x" * 509 + "..."
    assert slim_string("short") == "short" and slim_string("") == ""
    assert to_dict(MappingLike({"a": 1})) == {"a": 1}
    frame = FakeFrame({"a": "x" * 10, "b": "y" * 5000})
    assert get_frame_locals(frame) == {"a": "'" + "x" * 10 + "'"}  # b does not fit in 4096 chars
    assert get_frame_locals(FakeFrame({})) is None
    assert get_frame_locals(types.SimpleNamespace(f_locals=object())) is None
