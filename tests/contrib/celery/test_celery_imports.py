"""``import raven`` does not import Celery; ``raven.contrib.celery`` does, and says which pip extra
to install when it is missing; it keeps raven 6.10's public names. Each check in a fresh process."""

from __future__ import annotations

from typing import Any

# Makes ``import celery`` fail as if it were not installed.
_BLOCK = """
import sys
class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("No module named " + repr(name))
sys.meta_path.insert(0, _Missing())
"""


from contrib_support import json_lines, run_python  # noqa: E402  (after the shim source above)


def run(code: str) -> Any:
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    return json_lines(proc.stdout)[-1]


def test_import_raven_does_not_import_celery() -> None:
    result = run(
        "import json, sys, raven, raven.contrib, raven.handlers.logging; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('celery', 'kombu', 'billiard', 'redis'))))"
    )
    assert result == []


def test_missing_celery_names_the_extra() -> None:
    result = run(
        _BLOCK.format(blocked={"celery"}) + "import json\n"
        "try:\n"
        "    import raven.contrib.celery\n"
        "except ImportError as exc:\n"
        "    print(json.dumps({'error': str(exc), 'type': type(exc).__name__}))\n"
    )
    assert "pip install 'raven-ng[celery]'" in result["error"]
    assert result["type"] == "FrameworkMissing"  # an ImportError, as raven 6.10's was


def test_raven_610_public_names() -> None:
    import raven.contrib.celery as module

    for name in (
        "CeleryFilter",
        "SentryCeleryHandler",
        "register_logger_signal",
        "register_signal",
        # what raven 6.10's module also had in its namespace
        "SentryHandler",
        "SoftTimeLimitExceeded",
        "after_setup_logger",
        "task_failure",
        "task_postrun",
        "task_prerun",
        "logging",
    ):
        assert hasattr(module, name), name
