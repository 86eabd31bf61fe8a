#!/usr/bin/env python3
"""Run raven 6.10.0's own tests of ``raven.contrib`` (``tests/contrib/`` of its sdist) against
raven-ng and against raven 6.10.0, with the same Python and the same framework versions; print
``N passed on raven-ng of M that pass on raven 6.10.0`` per integration and in all.

    python .ci/raven610/contrib.py [--sdist raven-6.10.0.tar.gz] [--django 5.2|4.2] [--venvs DIR]
                                   [--enforce] [--keep]

It uses ``suite.py``'s steps (download of the sdist, pytest with ``raven610_shim`` and
``raven610_harness``, every step bounded in time) on three runs of raven's contrib tests, each in a
work directory without raven's ``raven/`` beside the tests:

* ``web``: Flask, Bottle, web.py, zerorpc, ZConfig and Pylons, with raven's root ``conftest.py``
  (as raven's suite runs them);
* ``web-no-conftest``: Sanic, Celery, AWS Lambda and Tornado, without it: raven's conftest never
  collects Sanic (it tries ``import Sanic``) and leaves AWS Lambda out; ``raven610_tornado5_shim``
  puts back the Tornado 5 names the Tornado tests are written with;
* ``django``: Django, with raven's conftest, pytest-django on raven's test settings and
  ``raven610_django_shim`` (names Django 3/4 and Celery 5 removed, which raven's test project
  imports).

Each run happens in two fresh venvs that differ only in raven (this checkout, or ``raven==6.10.0``):
``contrib-requirements.txt`` for the first two runs, ``contrib-django-requirements.txt`` and the
chosen Django LTS for the third. Fresh, because raven's conftest imports ``raven.contrib.django``
after every test whenever Django is importable, which must not decide the Flask tests' outcome.

A test that passes on raven 6.10.0 and not on raven-ng must be listed, with its reason, in
``contrib-expected-failures.txt`` (``node id  # reason``); with ``--enforce`` (or
``RAVEN610_ENFORCE=1``) one that is not listed exits 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import suite  # noqa: E402  (the steps of raven 6.10's main suite, used as they are)

EXPECTED = HERE / "contrib-expected-failures.txt"
DJANGO = {"5.2": "django~=5.2.0", "4.2": "django~=4.2.0"}
BUDGET = 900  # the whole step, venvs included


@dataclass(frozen=True)
class Run:
    """One pytest run of a selection of raven's contrib tests, in one pair of venvs."""

    name: str
    venvs: str  # "web" or "django"
    selection: tuple[str, ...]  # paths in the sdist
    conftest: bool
    ini: str  # lines added to pytest.ini


RUNS = (
    Run(
        "web",
        "web",
        tuple(
            f"tests/contrib/{name}" for name in ("flask", "bottle", "webpy", "zerorpc", "zconfig", "pylons")
        ),
        True,
        "",
    ),
    Run(
        "web-no-conftest",
        "web",
        (
            "tests/contrib/sanic",
            "tests/contrib/test_celery.py",
            "tests/contrib/awslambda",
            "tests/contrib/tornado",
        ),
        False,
        "addopts = -p raven610_tornado5_shim\n",
    ),
    Run(
        "django",
        "django",
        ("tests/contrib/django",),
        True,
        "addopts = -p raven610_django_shim\nDJANGO_SETTINGS_MODULE = tests.contrib.django.settings\n",
    ),
)

INTEGRATIONS = (
    "flask",
    "bottle",
    "webpy",
    "zerorpc",
    "zconfig",
    "pylons",
    "sanic",
    "celery",
    "awslambda",
    "tornado",
    "django",
)


def integration_of(nodeid: str) -> str:
    part = nodeid.split("/")[2] if nodeid.count("/") >= 2 else nodeid
    return "celery" if part.startswith("test_celery.py") else part


def pytest_ini(run: Run) -> str:
    # raven 6.10.0's setup.cfg [tool:pytest] options, less coverage, flake8 and django.
    base = "-p no:doctest -p no:logging -p no:cacheprovider"
    extra = ""
    for line in run.ini.splitlines():
        if line.startswith("addopts = "):
            base += " " + line.removeprefix("addopts = ")
        else:
            extra += line + "\n"
    return (
        f"# Written by raven-ng's .ci/raven610/contrib.py for its {run.name!r} run.\n"
        "[pytest]\npython_files = test*.py\n"
        f"addopts = --tb=native {base}\n"
        "norecursedirs = raven build bin dist htmlcov hooks node_modules .*\n"
        f"pythonpath = . tests\n{extra}"
    )


def lay_out(tmp: Path, root: Path, run: Run) -> Path:
    work = tmp / f"work-{run.name}"
    (work / "tests" / "contrib").mkdir(parents=True)
    for name in ("tests/__init__.py", "tests/contrib/__init__.py"):
        shutil.copy2(root / name, work / name)
    for name in run.selection:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / name)
    if run.conftest:
        shutil.copy2(root / "conftest.py", work / "conftest.py")
    (work / "pytest.ini").write_text(pytest_ini(run), encoding="utf-8")
    return work


def make_venv(path: Path, requirements: Path, packages: list[str], logfile: Path) -> str:
    python = str(path / "bin" / "python")
    if not Path(python).exists():
        suite.log(f"-- building {path.name}: {requirements.name} + {' '.join(packages)}")
        if suite.run([sys.executable, "-m", "venv", str(path)], 120, f"venv {path}").returncode:
            raise suite.SuiteError(f"could not create {path}")
        args = ["install", "--quiet", "-r", str(requirements), *packages]
        suite.pip(python, args, f"install into {path}", logfile)
    return python


def freeze(python: str) -> set[str]:
    out = subprocess.run(
        [python, "-m", "pip", "freeze", "--disable-pip-version-check", "--exclude-editable"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    # raven itself, and raven-ng's one dependency (certifi), may differ
    own = ("raven", "certifi")
    return {line for line in out.splitlines() if "==" in line and not line.lower().startswith(own)}


def venv_pairs(venvs: Path, tmp: Path, django: str) -> dict[str, tuple[str, str]]:
    """Both venvs of each pair, checked to hold the same libraries but raven."""
    specs = {
        "web": (HERE / "contrib-requirements.txt", []),
        "django": (HERE / "contrib-django-requirements.txt", [DJANGO[django]]),
    }
    pairs = {}
    for name, (requirements, extra) in specs.items():
        suffix = f"-django{django}" if name == "django" else ""
        ng = make_venv(venvs / f"venv-ng-{name}{suffix}", requirements, [str(ROOT), *extra], tmp / "pip.log")
        ref = make_venv(
            venvs / f"venv-610-{name}{suffix}", requirements, [suite.RAVEN_REQ, *extra], tmp / "pip.log"
        )
        differ = freeze(ng) ^ freeze(ref)
        if differ:
            raise suite.SuiteError(f"the {name} venvs differ in more than raven: {sorted(differ)}")
        pairs[name] = (ng, ref)
    return pairs


def report(ng: dict, ref: dict) -> bool:
    expected = suite.read_list(EXPECTED)
    ids = sorted(set(ng["tests"]) | set(ref["tests"]))
    on_ng = suite.outcomes_on(ng, ids)
    on_ref = suite.outcomes_on(ref, ids)
    suite.log("")
    for name, result in (("raven-ng", ng), ("raven 6.10.0", ref)):
        for module, reason in result["collect_errors"].items():
            suite.log(f"  not importable on {name}: {module}: {reason}")
    suite.log(f"  {'integration':<12} {'raven-ng of 6.10.0 passes':<26} tests  6.10.0 / raven-ng outcomes")
    total_m = total_n = 0
    for integration in INTEGRATIONS:
        mine = [n for n in ids if integration_of(n) == integration]
        passing_ref = [n for n in mine if on_ref[n][0] == "passed"]
        n = sum(1 for nodeid in passing_ref if on_ng[nodeid][0] == "passed")
        total_m, total_n = total_m + len(passing_ref), total_n + n
        counts = [dict(Counter(outcomes[x][0] for x in mine)) for outcomes in (on_ref, on_ng)]
        suite.log(
            f"  {integration:<12} {f'{n} of {len(passing_ref)}':<26} {len(mine):<6} {counts[0]} / {counts[1]}"
        )
    failing = {n: on_ng[n][1] for n in ids if on_ref[n][0] == "passed" and on_ng[n][0] != "passed"}
    unexpected = sorted(n for n in failing if n not in expected)
    for nodeid in sorted(failing):
        suite.log(f"  fails on raven-ng: {nodeid}\n      {expected.get(nodeid, 'UNEXPECTED')}")
        suite.log(f"      observed: {failing[nodeid]}")
    for nodeid in sorted(n for n in ids if on_ref[n][0] != "passed" and on_ng[n][0] == "passed"):
        suite.log(f"  passes on raven-ng only: {nodeid} (6.10.0: {on_ref[nodeid][0]}: {on_ref[nodeid][1]})")
    for nodeid in sorted(n for n in expected if n not in failing):
        suite.log(f"  listed as an expected failure, but does not fail so: {nodeid}")
    suite.log("")
    pct = 100.0 * total_n / total_m if total_m else 0.0
    suite.log(
        f"raven 6.10 contrib tests: {total_n} passed on raven-ng of {total_m} that pass on raven 6.10.0 "
        f"({pct:.1f}%); {len(ids)} tests; {len(unexpected)} unexpected failures"
    )
    return not unexpected and total_m > 0


def merge(results: list[dict]) -> dict:
    merged: dict = {"tests": {}, "collect_errors": {}}
    for result in results:
        merged["tests"].update(result["tests"])
        merged["collect_errors"].update(result["collect_errors"])
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help="use this raven-6.10.0.tar.gz instead of downloading it")
    parser.add_argument("--django", choices=sorted(DJANGO), default="5.2", help="the Django LTS to run on")
    parser.add_argument("--venvs", help="build (or reuse) the venvs in this directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--enforce",
        action="store_true",
        default=os.environ.get("RAVEN610_ENFORCE", "0") not in ("", "0"),
        help="exit 1 on a failure not in contrib-expected-failures.txt",
    )
    args = parser.parse_args()
    suite.PYTEST_TIMEOUT = 300
    suite._deadline = time.monotonic() + BUDGET
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="raven610-contrib-"))
    ok = False
    try:
        suite.read_list(EXPECTED)
        root = suite.fetch_sdist(tmp, sys.executable, args.sdist)
        pairs = venv_pairs(Path(args.venvs) if args.venvs else tmp, tmp, args.django)
        on: dict[str, list[dict]] = {"raven-ng": [], "raven-6.10.0": []}
        for run in RUNS:
            work = lay_out(tmp, root, run)
            for name, python in zip(on, pairs[run.venvs]):
                result = suite.run_suite(python, work, tmp, f"{name}-{run.name}", [])
                suite.check_imported_raven(
                    name, result["header"], [root, work], "6.10.0" if name == "raven-6.10.0" else None
                )
                on[name].append(result)
                suite.log(f"-- {run.name} on {name}: {len(result['tests'])} tests, {result['elapsed']:.1f} s")
        ok = report(merge(on["raven-ng"]), merge(on["raven-6.10.0"]))
    except (suite.SuiteError, OSError, subprocess.SubprocessError) as exc:
        suite.log(f"raven 6.10 contrib tests: could not be run: {exc}")
    except Exception:
        suite.log(
            "raven 6.10 contrib tests: could not be run: this script failed:\n" + traceback.format_exc()
        )
    finally:
        if args.keep:
            suite.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    suite.log(f"step took {time.monotonic() - started:.0f} s")
    return 1 if (args.enforce and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
