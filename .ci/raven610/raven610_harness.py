"""pytest plugin for ``.ci/raven610/suite.py``: records every test's outcome, and keeps raven 6.10's
tests on the loopback interface.

- Results: one JSON object per line to the file named by ``RAVEN610_RESULTS``: a header with the
  ``raven`` that was imported (path, version), then ``{"nodeid", "outcome", "reason"}`` per test
  (outcome ``passed``, ``failed`` or ``skipped``) and ``{"collect_error", "reason"}`` per module
  that could not be imported.
- Network: raven's tests build clients with DSNs such as ``http://public:secret@example.com/1``;
  where a send is not mocked (and while raven-ng's send chain differs from 6.10's, more may be
  real), the client would resolve and connect to that host. An audit hook (it sees the C-level
  calls, so gevent's and every library's sockets too) refuses any name resolution or connection
  that is not loopback, as a network without that host would: ``gaierror`` / ``ConnectionRefusedError``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_blocked: list[str] = []
_current = [""]  # the test running when a call was refused (a background thread's may be later)


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True
    host = host.strip("[]").split("%", 1)[0].lower()
    if host in ("",) or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if not _is_loopback(args[0]):
            _blocked.append(f"{event} {args[0]!r} during {_current[0] or 'no test'}")
            message = f"raven610 harness: no network but loopback ({args[0]!r})"
            raise socket.gaierror(socket.EAI_NONAME, message)
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[-1]
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            _blocked.append(f"{event} {address!r} during {_current[0] or 'no test'}")
            raise ConnectionRefusedError(f"raven610 harness: no network but loopback ({address!r})")


sys.addaudithook(_audit)

_path = os.environ.get("RAVEN610_RESULTS")
_outcomes: dict[str, dict[str, str]] = {}


def _write(record: dict[str, Any]) -> None:
    if _path:
        with open(_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def _reason(report: Any) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip().splitlines()[0] if str(crash.message).strip() else ""
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1] if text else ""


def pytest_sessionstart(session: Any) -> None:
    # Where ``raven`` comes from, found without running it; then its version, or why it cannot be
    # imported (every test then fails at collection, as it should).
    import importlib.util

    spec = importlib.util.find_spec("raven")
    header: dict[str, Any] = {
        "raven_file": os.path.abspath(spec.origin) if spec and spec.origin else "",
        "python": sys.version.split()[0],
    }
    try:
        import raven

        header["raven_version"] = getattr(raven, "VERSION", None)
    except Exception as exc:
        header["raven_import_error"] = f"{type(exc).__name__}: {exc}"
    _write(header)


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _write({"collect_error": report.nodeid, "reason": _reason(report)})


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _current[0] = nodeid


def pytest_runtest_logreport(report: Any) -> None:
    state = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "reason": ""})
    outcome = report.outcome
    if hasattr(report, "wasxfail"):  # xfail counts as a skip, xpass as a pass
        outcome = "passed" if report.passed else "skipped"
    if outcome == "failed" and state["outcome"] != "failed":
        where = "" if report.when == "call" else f"[{report.when}] "
        state.update(outcome="failed", reason=where + _reason(report))
    elif outcome == "skipped" and state["outcome"] == "passed":
        state.update(outcome="skipped", reason=_reason(report))
    if report.when == "teardown":
        _write({"nodeid": report.nodeid, **_outcomes.pop(report.nodeid)})


def pytest_sessionfinish(session: Any) -> None:
    _write({"blocked_network": _blocked[:50], "blocked_count": len(_blocked)})
