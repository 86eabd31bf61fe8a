"""``import raven`` does not import Tornado; ``raven.contrib.tornado`` does, and says which pip
extra to install when it is missing; it keeps raven 6.10's public names. Each check in a fresh
process."""

from __future__ import annotations

from typing import Any

from contrib_support import json_lines, run_python


def run(code: str) -> Any:
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    return json_lines(proc.stdout)[-1]


def test_import_raven_and_awslambda_do_not_import_tornado() -> None:
    result = run(
        "import json, sys, raven, raven.contrib, raven.contrib.awslambda; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tornado', 'celery', 'boto3', 'botocore'))))"
    )
    assert result == []


def test_missing_tornado_names_the_extra() -> None:
    result = run(
        "import sys, json\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tornado':\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Missing())\n"
        "try:\n"
        "    import raven.contrib.tornado\n"
        "except ImportError as exc:\n"
        "    print(json.dumps({'error': str(exc), 'type': type(exc).__name__}))\n"
    )
    assert "pip install 'raven-ng[tornado]'" in result["error"]
    assert result["type"] == "FrameworkMissing"


def test_raven_610_public_names() -> None:
    import raven.contrib.tornado as module

    for name in (
        "AsyncSentryClient",
        "SentryMixin",
        # what raven 6.10's module also had in its namespace
        "AsyncHTTPClient",
        "HTTPError",
        "WebHTTPError",
        "Client",
        "ioloop",
        "partial",
    ):
        assert hasattr(module, name), name
