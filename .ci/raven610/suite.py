#!/usr/bin/env python3
"""Run raven 6.10.0's own test suite against the installed raven-ng, and against raven 6.10.0.

    python .ci/raven610/suite.py [--enforce] [--write-expected] [--keep]

Run it with the Python of the venv whose raven-ng is under test (``.ci/run`` runs it with the CI
venv's ``python``). Steps, each bounded in time:

1. ``pip download --no-deps --no-binary :all: raven==6.10.0`` into a temporary directory; unpack.
   Nothing of raven is ever kept in this repository.
2. Lay out a work directory with raven's ``tests/`` (less ``tests/contrib``) and its
   ``conftest.py`` only: no ``raven/`` package beside them, so ``import raven`` is the installed
   one (each run records the path of the ``raven`` it imported, and this script checks it). A
   ``pytest.ini`` of ours replaces raven's ``setup.cfg`` options (``python_files = test*.py``,
   ``--tb=native -p no:doctest -p no:logging``, ``python_paths = tests``; no coverage). The work
   directory is made a git repository on ``master`` so ``test_fetch_git_sha`` runs instead of
   skipping.
3. Install ``requirements.txt`` (what raven's tests import) into this venv.
4. Build a throw-away venv with ``raven==6.10.0`` and the same requirements, pinned to the
   versions this venv has (``pip freeze`` as constraints), and run the same tests there too: the
   reference is measured at every run, under the same Python and the same test libraries, so it
   cannot drift from what it is compared with (it costs about 20 s).
5. Run pytest in both, with ``-p raven610_shim`` (removed unittest/pytest names) and
   ``-p raven610_harness`` (records outcomes; refuses non-loopback network).
6. Compare raven-ng's failures with ``expected-failures.txt`` (node id, then ``  # reason``). A
   failure not on the list is a regression; a listed test that passes is reported so the list can
   shrink. Tests in ``deselected.txt`` are not run at all (their reasons are in the file).
7. Print ``raven 6.10 test suite: N passed on raven-ng of M that pass on raven 6.10.0 (X%)``.

Exit status: 0 in report-only mode (the default) whatever happened; with ``--enforce`` (or
``RAVEN610_ENFORCE=1``), 1 when a test fails that is not on the list, or when the suite could not
be run at all.

``--write-expected`` rewrites ``expected-failures.txt`` from this run: entries still failing keep
their reasons, new failures get a cause from ``CAUSES`` below (or the observed error), passing
entries are dropped. Review the diff before committing it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected-failures.txt"
DESELECTED = HERE / "deselected.txt"
REQUIREMENTS = HERE / "requirements.txt"
RAVEN_REQ = "raven==6.10.0"

# Time bounds. The whole step usually takes about 30 s; BUDGET caps it whatever happens (every
# command below is killed, with its process group, when it outlives its bound or the budget).
BUDGET = 480
PIP_TIMEOUT = 240
PYTEST_TIMEOUT = 180  # one whole run; the suite takes a few seconds
TEST_TIMEOUT = 60  # one test (pytest-timeout)
_deadline = time.monotonic() + BUDGET

PYTEST_INI = """\
# Written by raven-ng's .ci/raven610/suite.py: raven 6.10.0's setup.cfg [tool:pytest] options,
# less coverage, flake8 and django.
[pytest]
python_files = test*.py
addopts = --tb=native -p no:doctest -p no:logging -p no:cacheprovider
norecursedirs = raven build bin dist htmlcov hooks node_modules .* contrib
pythonpath = tests
"""

# Cause labels for --write-expected, matched against the observed error of a new failure; the
# first match wins. Entries already in expected-failures.txt keep their hand-written reasons.
CAUSES = [
    (r"No module named '(raven\.[\w.]+)'", r"\1 missing (helper modules in progress)"),
    (r"cannot import name '(\w+)' from '([\w.]+)'", r"\2.\1 missing (helper modules in progress)"),
    (r"<class '([\w.]+)'> does not have the attribute '(\w+)'", r"\1.\2 missing"),
    (r"<module '([\w.]+)' from .*> does not have the attribute '(\w+)'", r"\1.\2 missing"),
    (r"'(\w+)' object has no attribute '(\w+)'", r"\1.\2 missing"),
]


class SuiteError(Exception):
    """The suite could not be run (download, install, or a run that did not finish)."""


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], timeout: float, what: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command in its own process group; kill the group if it outlives ``timeout``."""
    left = _deadline - time.monotonic()
    if left < 5:
        raise SuiteError(f"{what}: the step's {BUDGET} s budget is spent")
    timeout = min(timeout, left)
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise SuiteError(f"{what}: did not finish within {timeout:.0f} s (killed)") from None
    return subprocess.CompletedProcess(cmd, proc.returncode)


def pip(python: str, args: list[str], what: str, logfile: Path) -> None:
    with open(logfile, "ab") as out:
        result = run(
            [python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
            PIP_TIMEOUT,
            what,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = logfile.read_text(errors="replace").strip().splitlines()[-15:]
        raise SuiteError(f"{what}: pip exited {result.returncode}\n    " + "\n    ".join(tail))


# -- lists kept in the repository ------------------------------------------------------------------


def read_list(path: Path) -> dict[str, str]:
    """``node id  # reason`` per line; ``#`` lines and blank lines are comments."""
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        nodeid, sep, reason = line.partition("  # ")
        if not sep or not reason.strip():
            raise SuiteError(f"{path.name}:{number}: expected 'node id  # reason', got {raw!r}")
        entries[nodeid.strip()] = reason.strip()
    return entries


# -- preparing and running -------------------------------------------------------------------------


def fetch_sdist(tmp: Path, python: str, sdist: str | None) -> Path:
    if sdist is None:
        log(f"-- downloading the {RAVEN_REQ} sdist")
        dl = tmp / "download"
        dl.mkdir()
        pip(
            python,
            ["download", "--quiet", "--no-deps", "--no-binary", ":all:", RAVEN_REQ, "-d", str(dl)],
            "download of the raven 6.10.0 sdist",
            tmp / "pip.log",
        )
        found = sorted(dl.glob("raven-6.10.0.tar.gz"))
        if not found:
            raise SuiteError(f"no raven-6.10.0.tar.gz in {dl}: {sorted(os.listdir(dl))}")
        sdist = str(found[0])
    unpacked = tmp / "sdist"
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(unpacked, filter="data")
        else:  # pragma: no cover - Python without the extraction filters
            archive.extractall(unpacked)
    root = unpacked / "raven-6.10.0"
    if not (root / "tests").is_dir() or not (root / "conftest.py").is_file():
        raise SuiteError(f"unexpected sdist layout in {unpacked}")
    return root


def lay_out_workdir(tmp: Path, root: Path) -> Path:
    work = tmp / "work"
    work.mkdir()
    shutil.copytree(root / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(work / "tests" / "contrib", ignore_errors=True)  # another issue's
    shutil.copy2(root / "conftest.py", work / "conftest.py")
    (work / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    # The sdist's raven/ is not copied: nothing named raven may sit on the tests' import path.
    for path in (work / "raven", work / "tests" / "raven"):
        if path.exists():
            raise SuiteError(f"{path} exists: it would shadow the raven under test")
    git = shutil.which("git")
    if git:
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp))
        for cmd in (
            [git, "init", "-q"],
            [git, "symbolic-ref", "HEAD", "refs/heads/master"],
            [
                git,
                "-c",
                "user.name=raven610",
                "-c",
                "user.email=raven610@localhost",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "raven 6.10.0 tests",
            ],
        ):
            run(
                cmd,
                30,
                "git init of the work directory",
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    return work


def make_reference_venv(tmp: Path, python: str) -> str:
    log(f"-- building a throw-away venv with {RAVEN_REQ} and the same test libraries")
    venv = tmp / "venv-raven610"
    result = run([python, "-m", "venv", str(venv)], 120, "venv for raven 6.10.0")
    if result.returncode != 0:
        raise SuiteError("could not create the venv for raven 6.10.0")
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    constraints = tmp / "constraints.txt"
    constraints.write_text(
        "\n".join(
            line
            for line in frozen.splitlines()
            if "==" in line and " @ " not in line and not line.startswith(("-", "#"))
        )
        + "\n",
        encoding="utf-8",
    )
    ref_python = str(venv / "bin" / "python")
    pip(
        ref_python,
        ["install", "--quiet", RAVEN_REQ, "-r", str(REQUIREMENTS), "-c", str(constraints)],
        "install of raven 6.10.0 and its test libraries",
        tmp / "pip.log",
    )
    return ref_python


def run_suite(python: str, work: Path, tmp: Path, name: str, deselect: list[str]) -> dict:
    results = tmp / f"results-{name}.jsonl"
    logfile = tmp / f"pytest-{name}.log"
    cmd = [
        python,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "-p",
        "raven610_shim",
        "-p",
        "raven610_harness",
        f"--timeout={TEST_TIMEOUT}",
        "--disable-warnings",
        "--continue-on-collection-errors",
    ]
    for nodeid in deselect:
        cmd += ["--deselect", nodeid]
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "VIRTUAL_ENV"):
        env.pop(var, None)
    for var in [v for v in env if v.startswith("SENTRY_")]:
        env.pop(var)  # raven reads SENTRY_DSN & co. from the environment
    env.update(PYTHONPATH=str(HERE), RAVEN610_RESULTS=str(results), PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    with open(logfile, "wb") as out:
        proc = run(
            cmd,
            PYTEST_TIMEOUT,
            f"raven 6.10.0's tests on {name}",
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    elapsed = time.monotonic() - started
    # 0: all passed, 1: some failed, 2: collection errors only, 5: nothing ran; 3 and 4: pytest broke
    if proc.returncode not in (0, 1, 2, 5) or not results.exists():
        tail = logfile.read_text(errors="replace").strip().splitlines()[-20:]
        raise SuiteError(f"pytest on {name} exited {proc.returncode}\n    " + "\n    ".join(tail))
    header: dict = {}
    tests: dict[str, tuple[str, str]] = {}
    collect_errors: dict[str, str] = {}
    blocked: dict = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "raven_file" in record:
            header = record
        elif "collect_error" in record:
            collect_errors[record["collect_error"]] = clean(record["reason"])
        elif "nodeid" in record:
            tests[record["nodeid"]] = (record["outcome"], clean(record["reason"]))
        elif "blocked_count" in record:
            blocked = record
    return {
        "header": header,
        "tests": tests,
        "collect_errors": collect_errors,
        "blocked": blocked,
        "elapsed": elapsed,
        "log": logfile,
    }


def clean(reason: str) -> str:
    reason = re.sub(r"^E\s+", "", reason.strip())
    return " ".join(reason.split())[:300]


def check_imported_raven(name: str, header: dict, forbidden: list[Path], want_version: str | None) -> None:
    path = header.get("raven_file", "")
    if not path:
        raise SuiteError(f"the {name} run found no raven")
    if any(Path(path).resolve().is_relative_to(f.resolve()) for f in forbidden):
        raise SuiteError(f"the {name} run imported raven from the unpacked sdist: {path}")
    if header.get("raven_import_error"):
        log(f"  !! the {name} run could not import raven: {header['raven_import_error']}")
    if want_version and header.get("raven_version") != want_version:
        raise SuiteError(f"the {name} run imported raven {header.get('raven_version')} from {path}")


# -- comparing -------------------------------------------------------------------------------------


def outcomes_on(run_result: dict, all_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Every node id's outcome in one run; a test whose module failed to import has failed."""
    tests, errors = run_result["tests"], run_result["collect_errors"]
    out = {}
    for nodeid in all_ids:
        if nodeid in tests:
            out[nodeid] = tests[nodeid]
            continue
        path = nodeid.split("::", 1)[0]
        owner = [p for p in errors if p and (path == p or path.startswith(p.rstrip("/") + "/"))]
        if owner:
            out[nodeid] = ("failed", "test module not importable: " + errors[max(owner, key=len)])
        else:
            out[nodeid] = ("missing", "not collected in this run")
    return out


def classify(observed: str) -> str:
    for pattern, label in CAUSES:
        match = re.search(pattern, observed)
        if match:
            return match.expand(label)
    return "TODO (give the cause): " + observed


def write_expected(failing: dict[str, str], expected: dict[str, str], on_ref: dict) -> None:
    def cause(nodeid: str, observed: str) -> str:
        reason = classify(observed)
        ref_outcome, ref_reason = on_ref[nodeid]
        if ref_outcome == "skipped":
            return f"skipped on raven 6.10.0 ({ref_reason}); here: {reason}"
        if ref_outcome != "passed":
            return f"fails on raven 6.10.0 too; here: {reason}"
        return reason

    reasons = {nodeid: expected.get(nodeid) or cause(nodeid, seen) for nodeid, seen in failing.items()}
    groups: dict[str, list[str]] = defaultdict(list)
    for nodeid, reason in reasons.items():
        groups[reason].append(nodeid)
    lines = [
        "# raven 6.10.0's own tests (tests/ less tests/contrib) that fail on raven-ng today.",
        "# One line per pytest node id, then two spaces, '# ' and the cause; grouped by cause.",
        "# .ci/raven610/suite.py fails (with --enforce / RAVEN610_ENFORCE=1) when a test fails that",
        "# is not listed here, and reports listed tests that pass, so the list can shrink.",
        "# Refresh: python .ci/raven610/suite.py --write-expected (entries still failing keep their",
        "# cause; new ones get one from CAUSES in suite.py or the observed error; review the diff).",
    ]
    for reason in sorted(groups, key=lambda r: (-len(groups[r]), r)):
        lines += ["", f"## {reason} ({len(groups[reason])})"]
        lines += [f"{nodeid}  # {reason}" for nodeid in sorted(groups[reason])]
    EXPECTED.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {EXPECTED} ({len(reasons)} entries, {len(groups)} causes)")


def compare(ng: dict, ref: dict, args: argparse.Namespace) -> bool:
    """Print the report; return True when no test fails that is not on the list."""
    expected = read_list(EXPECTED)
    all_ids = sorted(set(ng["tests"]) | set(ref["tests"]))
    on_ng = outcomes_on(ng, all_ids)
    on_ref = outcomes_on(ref, all_ids)

    # failing on raven-ng: failed, or not run, or skipped where raven 6.10.0 passes
    failing: dict[str, str] = {}
    for nodeid in all_ids:
        outcome, reason = on_ng[nodeid]
        if outcome in ("failed", "missing"):
            failing[nodeid] = reason
        elif outcome == "skipped" and on_ref[nodeid][0] == "passed":
            failing[nodeid] = "skipped on raven-ng: " + reason

    def counts(outcomes: dict[str, tuple[str, str]]) -> str:
        c = Counter(outcome for outcome, _ in outcomes.values())
        return ", ".join(f"{k} {c[k]}" for k in ("passed", "failed", "skipped", "missing") if c[k])

    log("")
    log(f"raven 6.10.0's tests (tests/ less tests/contrib, {len(all_ids)} tests)")
    for name, result, outcomes in (("raven-ng", ng, on_ng), ("raven 6.10.0", ref, on_ref)):
        header = result["header"]
        log(
            f"  on {name} (raven {header.get('raven_version')}, {header.get('raven_file')}, "
            f"Python {header.get('python')}): {counts(outcomes)}; "
            f"{len(result['collect_errors'])} modules not importable; {result['elapsed']:.1f} s"
        )
        if result["blocked"].get("blocked_count"):
            log(
                f"    refused {result['blocked']['blocked_count']} non-loopback network calls, e.g. "
                + "; ".join(result["blocked"]["blocked_network"][:2])
            )

    unexpected = {n: r for n, r in failing.items() if n not in expected}
    now_passing = sorted(n for n in expected if n in on_ng and n not in failing)
    stale = sorted(n for n in expected if n not in on_ng)

    by_cause = Counter(expected[n] for n in failing if n in expected)
    if by_cause:
        log(f"  expected failures still failing, by cause ({sum(by_cause.values())}):")
        for reason, count in by_cause.most_common():
            log(f"    {count:4d}  {reason}")
    if now_passing:
        log(
            f"  listed as expected failures but no longer fail ({len(now_passing)}): remove them from "
            f"{EXPECTED.relative_to(HERE.parent.parent)}"
        )
        for nodeid in now_passing:
            log(f"    {nodeid}")
    if stale:
        log(f"  listed but not in the suite any more ({len(stale)}): remove them")
        for nodeid in stale:
            log(f"    {nodeid}")
    if unexpected:
        log(f"  UNEXPECTED failures on raven-ng, not in the expected list ({len(unexpected)}):")
        for nodeid, reason in sorted(unexpected.items()):
            ref_outcome = on_ref[nodeid][0]
            log(f"    {nodeid}  [{ref_outcome} on raven 6.10.0]")
            log(f"        {reason}")
    else:
        log("  no unexpected failures")
    log(f"  pytest logs: {ng['log']}, {ref['log']}" + ("" if args.keep else " (removed; --keep keeps them)"))

    passing_ref = [n for n in all_ids if on_ref[n][0] == "passed"]
    passing_both = [n for n in passing_ref if on_ng[n][0] == "passed"]
    m, n = len(passing_ref), len(passing_both)
    pct = 100.0 * n / m if m else 0.0
    log("")
    log(f"raven 6.10 test suite: {n} passed on raven-ng of {m} that pass on raven 6.10.0 ({pct:.1f}%)")

    if args.write_expected:
        write_expected(failing, expected, on_ref)
    return not unexpected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--enforce",
        action="store_true",
        default=os.environ.get("RAVEN610_ENFORCE", "0") not in ("", "0"),
        help="exit 1 on a failure not in expected-failures.txt (default: RAVEN610_ENFORCE)",
    )
    parser.add_argument(
        "--write-expected", action="store_true", help="rewrite expected-failures.txt from this run"
    )
    parser.add_argument(
        "--no-install", action="store_true", help="do not pip install requirements.txt into this venv"
    )
    parser.add_argument("--sdist", help="use this raven-6.10.0.tar.gz instead of downloading it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    mode = "enforcing" if args.enforce else "report only"
    log(f"== raven 6.10.0's own test suite against raven-ng ({mode})")
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="raven610-"))
    python = sys.executable
    try:
        deselect = read_list(DESELECTED)
        read_list(EXPECTED)  # a malformed list fails before anything is downloaded
        root = fetch_sdist(tmp, python, args.sdist)
        work = lay_out_workdir(tmp, root)
        if not args.no_install:
            log(f"-- installing {REQUIREMENTS.name} into {sys.prefix}")
            pip(
                python,
                ["install", "--quiet", "-r", str(REQUIREMENTS)],
                "install of raven's test libraries",
                tmp / "pip.log",
            )
        ref_python = make_reference_venv(tmp, python)
        log("-- running the tests on raven-ng, then on raven 6.10.0")
        ng = run_suite(python, work, tmp, "raven-ng", list(deselect))
        ref = run_suite(ref_python, work, tmp, "raven-6.10.0", list(deselect))
        check_imported_raven("raven-ng", ng["header"], [root, work], None)
        check_imported_raven("raven 6.10.0", ref["header"], [root, work], "6.10.0")
        if not ref["tests"] or not any(o == "passed" for o, _ in ref["tests"].values()):
            raise SuiteError("no test passed on raven 6.10.0: the harness is broken")
        if deselect:
            log(f"  not run ({len(deselect)}, see {DESELECTED.name}): " + ", ".join(deselect))
        ok = compare(ng, ref, args)
    except (SuiteError, OSError, subprocess.SubprocessError) as exc:
        log(f"raven 6.10 test suite: could not be run: {exc}")
        ok = False
    except Exception:  # a bug of this script: report it, and fail only when enforcing
        log("raven 6.10 test suite: could not be run: this script failed:\n" + traceback.format_exc())
        ok = False
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    log(f"raven 6.10 test suite step took {time.monotonic() - started:.0f} s")
    if not ok and args.enforce:
        return 1
    if not ok:
        log("(report only: this does not fail CI; RAVEN610_ENFORCE=1 makes it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
