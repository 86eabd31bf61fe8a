#!/usr/bin/env python3
"""Run raven 6.10.0's own tests of its Flask, Bottle, Sanic, web.py, zerorpc, ZConfig and Pylons
integrations against raven-ng, and against raven 6.10.0, with the same Python and framework
versions; print "N of M" per framework (M: the tests that pass on raven 6.10.0).

    python .ci/raven610/contrib_flask_etc.py [--sdist raven-6.10.0.tar.gz] [--keep] [--venvs DIR]

Report only: it always exits 0 unless it could not run. Not part of CI (``.ci/run``); see
``contrib-flask-etc-notes.txt`` for the results and the reasons of each failure.

How (reusing ``suite.py``'s helpers): raven's ``tests/contrib/<framework>`` and its ``conftest.py``
in a temporary work directory with our ``pytest.ini`` (no ``raven/`` beside them); two fresh venvs
with ``contrib-flask-etc-requirements.txt``, one with raven-ng (this checkout) and one with
``raven==6.10.0``: fresh, so that no framework installed for another integration (Django, whose
presence makes raven's conftest import ``raven.contrib.django`` after every test) changes the run.
pytest runs with ``-p raven610_shim -p raven610_harness`` as in ``suite.py``.

raven's conftest never collects ``tests/contrib/sanic`` (it tries ``import Sanic``, capitalised,
which always fails); a second pair of runs, without raven's conftest, runs the Sanic tests anyway.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import suite  # noqa: E402

FRAMEWORKS = ("flask", "bottle", "sanic", "webpy", "zerorpc", "zconfig", "pylons")
REQUIREMENTS = HERE / "contrib-flask-etc-requirements.txt"
PYTEST_INI = """\
# Written by raven-ng's .ci/raven610/contrib_flask_etc.py: raven 6.10.0's setup.cfg options, less
# coverage, flake8 and django.
[pytest]
python_files = test*.py
addopts = --tb=native -p no:doctest -p no:logging -p no:cacheprovider
norecursedirs = raven build bin dist htmlcov hooks node_modules .*
pythonpath = tests
"""


def lay_out(tmp: Path, root: Path, name: str, with_conftest: bool, frameworks: tuple[str, ...]) -> Path:
    work = tmp / name
    (work / "tests" / "contrib").mkdir(parents=True)
    shutil.copy2(root / "tests" / "__init__.py", work / "tests" / "__init__.py")
    shutil.copy2(root / "tests" / "contrib" / "__init__.py", work / "tests" / "contrib" / "__init__.py")
    for framework in frameworks:
        shutil.copytree(
            root / "tests" / "contrib" / framework,
            work / "tests" / "contrib" / framework,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    if with_conftest:
        shutil.copy2(root / "conftest.py", work / "conftest.py")
    (work / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return work


def make_venv(path: Path, package: list[str], logfile: Path) -> str:
    python = str(path / "bin" / "python")
    if not Path(python).exists():
        suite.log(f"-- building {path} with {' '.join(package)}")
        if suite.run([sys.executable, "-m", "venv", str(path)], 120, f"venv {path}").returncode:
            raise suite.SuiteError(f"could not create {path}")
        args = ["install", "--quiet", "-r", str(REQUIREMENTS), *package]
        suite.pip(python, args, f"install into {path}", logfile)
    return python


def per_framework(ng: dict, ref: dict) -> tuple[list[str], dict[str, list[tuple[str, str, str]]]]:
    ids = sorted(set(ng["tests"]) | set(ref["tests"]))
    on_ng = suite.outcomes_on(ng, ids)
    on_ref = suite.outcomes_on(ref, ids)
    lines = []
    failures: dict[str, list[tuple[str, str, str]]] = {}
    total = Counter()
    for framework in FRAMEWORKS:
        mine = [n for n in ids if n.startswith(f"tests/contrib/{framework}/")]
        if not mine:
            continue
        passing_ref = [n for n in mine if on_ref[n][0] == "passed"]
        passing_both = [n for n in passing_ref if on_ng[n][0] == "passed"]
        total["m"] += len(passing_ref)
        total["n"] += len(passing_both)
        ref_counts = Counter(o for o, _ in (on_ref[n] for n in mine))
        ng_counts = Counter(o for o, _ in (on_ng[n] for n in mine))
        lines.append(
            f"  {framework:8s} {len(passing_both)} of {len(passing_ref)} "
            f"(of {len(mine)} tests; raven 6.10.0: {dict(ref_counts)}; raven-ng: {dict(ng_counts)})"
        )
        for nodeid in mine:
            if on_ng[nodeid][0] != "passed" or on_ref[nodeid][0] != "passed":
                ref_line = f"6.10.0 {on_ref[nodeid][0]}: {on_ref[nodeid][1]}"
                ng_line = f"raven-ng {on_ng[nodeid][0]}: {on_ng[nodeid][1]}"
                failures.setdefault(framework, []).append((nodeid, ref_line, ng_line))
    m, n = total["m"], total["n"]
    pct = 100.0 * n / m if m else 0.0
    lines.append(f"  all      {n} of {m} ({pct:.1f}%)")
    return lines, failures


def report(title: str, ng: dict, ref: dict) -> None:
    suite.log("")
    suite.log(title)
    for name, result in (("raven-ng", ng), ("raven 6.10.0", ref)):
        header = result["header"]
        suite.log(
            f"  {name}: raven {header.get('raven_version')} from {header.get('raven_file')}, "
            f"Python {header.get('python')}, {len(result['collect_errors'])} modules not importable"
        )
    lines, failures = per_framework(ng, ref)
    for line in lines:
        suite.log(line)
    for framework, entries in failures.items():
        suite.log(f"  {framework}: not passing on both")
        for nodeid, ref_reason, ng_reason in entries:
            suite.log(f"    {nodeid}")
            suite.log(f"        {ref_reason}")
            suite.log(f"        {ng_reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help="use this raven-6.10.0.tar.gz instead of downloading it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--venvs", help="build (or reuse) the two venvs in this directory")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="raven610-contrib-"))
    venvs = Path(args.venvs) if args.venvs else tmp
    suite.PYTEST_TIMEOUT = 300
    try:
        root = suite.fetch_sdist(tmp, sys.executable, args.sdist)
        ng_python = make_venv(venvs / "venv-raven-ng", ["-e", str(ROOT)], tmp / "pip.log")
        ref_python = make_venv(venvs / "venv-raven610", [suite.RAVEN_REQ], tmp / "pip.log")
        work = lay_out(tmp, root, "work", True, FRAMEWORKS)
        ng = suite.run_suite(ng_python, work, tmp, "raven-ng", [])
        ref = suite.run_suite(ref_python, work, tmp, "raven-6.10.0", [])
        suite.check_imported_raven("raven-ng", ng["header"], [root, work], None)
        suite.check_imported_raven("raven 6.10.0", ref["header"], [root, work], "6.10.0")
        report("raven 6.10.0's contrib tests, with raven's conftest (as its suite runs them):", ng, ref)
        sanic_work = lay_out(tmp, root, "work-sanic", False, ("sanic",))
        ng_s = suite.run_suite(ng_python, sanic_work, tmp, "raven-ng-sanic", [])
        ref_s = suite.run_suite(ref_python, sanic_work, tmp, "raven-6.10.0-sanic", [])
        title = "raven 6.10.0's Sanic tests, without raven's conftest (which never collects them):"
        report(title, ng_s, ref_s)
    except (suite.SuiteError, OSError, subprocess.SubprocessError) as exc:
        suite.log(f"could not be run: {exc}")
        return 1
    finally:
        if args.keep:
            suite.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
