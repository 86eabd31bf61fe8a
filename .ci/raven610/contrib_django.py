#!/usr/bin/env python3
"""Run raven 6.10.0's own Django tests (``tests/contrib/django``) against raven-ng, and against
raven 6.10.0, with the same Python, Django and test libraries; print "N of M" (M: the tests that
pass on raven 6.10.0) and every test that does not pass on both.

    python .ci/raven610/contrib_django.py [--django 5.2|4.2] [--sdist raven-6.10.0.tar.gz] [--keep] [--venvs DIR]

Report only: it exits 0 unless it could not run. Not part of CI (``.ci/run``); the results and the
reason of each failure are in ``contrib-django-notes.txt``.

How (reusing ``suite.py``'s helpers): raven's ``tests/`` package with only ``tests/contrib/django``,
and raven's root ``conftest.py`` (its ``user_instance`` / ``mytest_model`` fixtures and its teardown
that empties ``client.events``), in a temporary work directory with our ``pytest.ini`` (raven's
``setup.cfg`` options, ``DJANGO_SETTINGS_MODULE = tests.contrib.django.settings`` as raven's
setup.cfg had it, no ``raven/`` beside the tests). Two fresh venvs with
``contrib-django-requirements.txt`` and the same Django: one with raven-ng installed from this
checkout (not editable: the package as pip builds it), one with ``raven==6.10.0``. pytest runs with
``-p raven610_shim -p raven610_harness`` as in ``suite.py``, plus ``-p raven610_django_shim``
(``django.conf.urls.url`` and ``render_to_response``, which raven's test project imports and which
Django 4.0 and 3.0 removed: without them neither raven can run a single test).
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

import suite  # noqa: E402  (the steps of raven 6.10's main suite, used as they are)

REQUIREMENTS = HERE / "contrib-django-requirements.txt"
DJANGO = {"5.2": "django~=5.2.0", "4.2": "django~=4.2.0"}
PYTEST_INI = """\
# Written by raven-ng's .ci/raven610/contrib_django.py: raven 6.10.0's setup.cfg [tool:pytest]
# options, less coverage and flake8, plus the Django names shim.
[pytest]
python_files = test*.py
addopts = --tb=native -p no:doctest -p no:logging -p no:cacheprovider -p raven610_django_shim
norecursedirs = raven build bin dist htmlcov hooks node_modules .*
DJANGO_SETTINGS_MODULE = tests.contrib.django.settings
pythonpath = . tests
"""


def lay_out(tmp: Path, root: Path) -> Path:
    work = tmp / "work"
    (work / "tests" / "contrib").mkdir(parents=True)
    for name in ("tests/__init__.py", "tests/contrib/__init__.py"):
        shutil.copy2(root / name, work / name)
    shutil.copytree(
        root / "tests" / "contrib" / "django",
        work / "tests" / "contrib" / "django",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy2(root / "conftest.py", work / "conftest.py")
    (work / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    for path in (work / "raven", work / "tests" / "raven"):
        if path.exists():
            raise suite.SuiteError(f"{path} exists: it would shadow the raven under test")
    return work


def make_venv(path: Path, packages: list[str], logfile: Path) -> str:
    python = str(path / "bin" / "python")
    if not Path(python).exists():
        suite.log(f"-- building {path} with {' '.join(packages)}")
        if suite.run([sys.executable, "-m", "venv", str(path)], 120, f"venv {path}").returncode:
            raise suite.SuiteError(f"could not create {path}")
        args = ["install", "--quiet", "-r", str(REQUIREMENTS), *packages]
        suite.pip(python, args, f"install into {path}", logfile)
    return python


def django_version(python: str) -> str:
    result = subprocess.run(
        [python, "-c", "import django; print(django.get_version())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() or result.stderr.strip()[-200:]


def report(ng: dict, ref: dict, versions: dict[str, str]) -> None:
    ids = sorted(set(ng["tests"]) | set(ref["tests"]))
    on_ng = suite.outcomes_on(ng, ids)
    on_ref = suite.outcomes_on(ref, ids)
    suite.log("")
    for name, result, outcomes in (("raven-ng", ng, on_ng), ("raven 6.10.0", ref, on_ref)):
        header = result["header"]
        counts = Counter(outcome for outcome, _ in outcomes.values())
        suite.log(
            f"  on {name} (raven {header.get('raven_version')} from {header.get('raven_file')}, "
            f"Django {versions[name]}, Python {header.get('python')}): {dict(counts)}; "
            f"{len(result['collect_errors'])} modules not importable; {result['elapsed']:.1f} s"
        )
        for module, reason in result["collect_errors"].items():
            suite.log(f"    not importable: {module}: {reason}")
    passing_ref = [n for n in ids if on_ref[n][0] == "passed"]
    passing_both = [n for n in passing_ref if on_ng[n][0] == "passed"]
    suite.log("")
    suite.log("  not passing on both (raven 6.10.0 | raven-ng):")
    for nodeid in ids:
        if on_ng[nodeid][0] == "passed" and on_ref[nodeid][0] == "passed":
            continue
        suite.log(f"    {nodeid}")
        suite.log(f"        6.10.0 {on_ref[nodeid][0]}: {on_ref[nodeid][1]}")
        suite.log(f"        raven-ng {on_ng[nodeid][0]}: {on_ng[nodeid][1]}")
    m, n = len(passing_ref), len(passing_both)
    suite.log("")
    suite.log(
        f"raven 6.10 Django tests (Django {versions['raven-ng']}): {n} passed on raven-ng of {m} that "
        f"pass on raven 6.10.0 ({100.0 * n / m if m else 0.0:.1f}%); {len(ids)} tests"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--django", choices=sorted(DJANGO), default="5.2", help="the Django LTS to run on")
    parser.add_argument("--sdist", help="use this raven-6.10.0.tar.gz instead of downloading it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--venvs", help="build (or reuse) the two venvs in this directory")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="raven610-django-"))
    venvs = Path(args.venvs) if args.venvs else tmp
    django = DJANGO[args.django]
    suite.PYTEST_TIMEOUT = 300
    try:
        root = suite.fetch_sdist(tmp, sys.executable, args.sdist)
        ng_python = make_venv(venvs / f"venv-raven-ng-django{args.django}", [str(ROOT), django], tmp / "pip.log")
        ref_python = make_venv(
            venvs / f"venv-raven610-django{args.django}", [suite.RAVEN_REQ, django], tmp / "pip.log"
        )
        versions = {"raven-ng": django_version(ng_python), "raven 6.10.0": django_version(ref_python)}
        if versions["raven-ng"] != versions["raven 6.10.0"]:
            raise suite.SuiteError(f"the two venvs have different Django versions: {versions}")
        work = lay_out(tmp, root)
        suite.log("-- running the tests on raven-ng, then on raven 6.10.0")
        ng = suite.run_suite(ng_python, work, tmp, "raven-ng", [])
        ref = suite.run_suite(ref_python, work, tmp, "raven-6.10.0", [])
        suite.check_imported_raven("raven-ng", ng["header"], [root, work], None)
        suite.check_imported_raven("raven 6.10.0", ref["header"], [root, work], "6.10.0")
        report(ng, ref, versions)
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
