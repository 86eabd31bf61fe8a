"""``import raven`` and ``import raven.contrib`` import no web framework (checked in a fresh
interpreter); each integration imports its own, and a missing one is an ImportError naming the
pip extra to install."""

from __future__ import annotations

import json

import pytest
from contrib_support import run_python

#: Every framework module the integrations of this directory may import.
FRAMEWORKS = (
    "flask",
    "flask_login",
    "blinker",
    "werkzeug",
    "bottle",
    "sanic",
    "web",
    "zerorpc",
    "zmq",
    "gevent",
    "ZConfig",
    "AccessControl",
    "paste.deploy",  # not "paste": Paste's .pth file imports that namespace at start-up
    "pylons",
)


def test_import_raven_and_raven_contrib_load_no_framework() -> None:
    code = (
        "import json, sys\n"
        "import raven, raven.contrib, raven.base, raven.middleware, raven.handlers.logging\n"
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("raven.contrib.flask", "flask", "flask"),
        ("raven.contrib.bottle", "bottle", "bottle"),
        ("raven.contrib.sanic", "sanic", "sanic"),
        ("raven.contrib.webpy", "web", "webpy"),
        ("raven.contrib.zconfig", "ZConfig", "zconfig"),
        ("raven.contrib.zope", "AccessControl", "zope"),
    ],
)
def test_a_missing_framework_names_the_extra(module: str, blocked: str, extra: str) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "try:\n"
        f"    import {module}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "else:\n"
        "    print('imported')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FrameworkMissing ")
    assert f"pip install 'raven-ng[{extra}]'" in result.stdout


@pytest.mark.parametrize("module", ["raven.contrib.paste", "raven.contrib.pylons", "raven.contrib.zerorpc"])
def test_integrations_that_the_framework_calls_import_nothing_of_it(module: str) -> None:
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
