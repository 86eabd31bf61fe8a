"""raven.conf: RemoteConfig, setup_logging, defaults; and the package's top-level names."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import raven
from raven.conf import EXCLUDE_LOGGER_DEFAULTS, defaults, setup_logging
from raven.conf.remote import RemoteConfig, discover_default_transport
from raven.exceptions import InvalidDsn, InvalidGitRepository
from raven.utils.versioning import fetch_git_sha, fetch_package_version

# -- RemoteConfig


def test_from_string_splits_the_dsn() -> None:
    remote = RemoteConfig.from_string("https://pub:sec@sentry.example.com:8443/base/path/12?timeout=3")
    assert remote.base_url == "https://sentry.example.com:8443/base/path"
    assert remote.project == "12"
    assert (remote.public_key, remote.secret_key) == ("pub", "sec")
    assert remote.options == {"timeout": "3"}
    assert remote.store_endpoint == "https://sentry.example.com:8443/base/path/api/12/store/"
    assert remote.is_active()
    assert str(remote) == "https://sentry.example.com:8443/base/path"
    assert remote.get_public_dsn() == "//pub@sentry.example.com:8443/base/path/12"


def test_empty_remote_is_inactive() -> None:
    remote = RemoteConfig()
    assert not remote.is_active()
    assert remote.get_transport() is None
    assert remote.get_public_dsn() is None
    assert remote.store_endpoint is None


def test_remote_built_from_parts_makes_its_transport() -> None:
    remote = RemoteConfig(
        base_url="http://127.0.0.1:9000/", project="5", public_key="k", options={"timeout": "2.5"}
    )
    assert remote.store_endpoint == "http://127.0.0.1:9000/api/5/store/"
    assert remote.dsn is not None and remote.dsn.envelope_url == "http://127.0.0.1:9000/api/5/envelope/"
    assert remote.get_transport().options.timeout == 2.5


def test_bad_option_is_reported_by_get_transport() -> None:
    remote = RemoteConfig.from_string("https://pub@sentry.example.com/1?timeout=soon")
    with pytest.raises(InvalidDsn, match="timeout"):
        remote.get_transport()


def test_unknown_transport_scheme() -> None:
    with (
        pytest.raises(InvalidDsn, match="Unsupported Sentry DSN scheme: zap"),
        pytest.warns(DeprecationWarning),
    ):
        RemoteConfig.from_string("zap+https://pub@sentry.example.com/1")
    with pytest.raises(InvalidDsn, match="Unsupported Sentry DSN scheme: ftp"):
        RemoteConfig.from_string("ftp://pub@sentry.example.com/1")


def test_transport_scheme_warns_and_selects() -> None:
    from raven.transport.threaded import ThreadedHTTPTransport

    with pytest.warns(DeprecationWarning, match="Transport selection via DSN is deprecated") as caught:
        remote = RemoteConfig.from_string("threaded+https://pub@sentry.example.com/1")
    assert remote.transport_cls is ThreadedHTTPTransport
    assert caught[0].filename == __file__  # the warning points at the caller, not at raven


def test_plain_scheme_uses_the_default_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    from raven.transport.http import HTTPTransport
    from raven.transport.threaded import ThreadedHTTPTransport

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    assert discover_default_transport() is ThreadedHTTPTransport
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert discover_default_transport() is HTTPTransport


# -- setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ["", *EXCLUDE_LOGGER_DEFAULTS]
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names}
    yield
    for name, (handlers, propagate) in saved.items():
        log = logging.getLogger(name)
        log.handlers[:] = handlers
        log.propagate = propagate


def test_setup_logging_attaches_once_and_isolates_excluded_loggers(restore_logging: None) -> None:
    class MyHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            pass

    assert setup_logging(MyHandler()) is True
    assert setup_logging(MyHandler()) is False
    assert sum(isinstance(h, MyHandler) for h in logging.getLogger().handlers) == 1
    for name in EXCLUDE_LOGGER_DEFAULTS:
        log = logging.getLogger(name)
        assert log.propagate is False
        assert any(isinstance(h, logging.StreamHandler) for h in log.handlers)


def test_defaults() -> None:
    assert defaults.MAX_LENGTH_STRING == 400
    assert defaults.MAX_LENGTH_LIST == 50
    assert defaults.PROCESSORS == ("raven.processors.SanitizePasswordsProcessor",)
    assert os.path.isfile(defaults.CA_BUNDLE)


# -- package surface


def test_top_level_names() -> None:
    from raven.version import VERSION

    assert raven.VERSION == VERSION
    assert raven.get_version().startswith(VERSION)
    assert raven.Client.__name__ == "Client"
    assert raven.setup_logging is setup_logging


def test_import_raven_loads_no_optional_library() -> None:
    code = (
        "import sys, raven, raven.handlers.logging, raven.conf.remote\n"
        "bad = [m for m in ('gevent', 'eventlet', 'tornado', 'twisted', 'requests', 'aiohttp', 'urllib3')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    src = str(Path(raven.__file__).parent.parent)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def _fake_repo(root: Path, head: str) -> Path:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head)
    return git


def test_fetch_git_sha(tmp_path: Path) -> None:
    git = _fake_repo(tmp_path, "ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    assert fetch_git_sha(str(tmp_path)) == "a" * 40
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text("# pack-refs\n" + "b" * 40 + " refs/heads/main\n^" + "c" * 40 + "\n")
    assert fetch_git_sha(str(tmp_path)) == "b" * 40
    assert fetch_git_sha(str(tmp_path), head="main") == "b" * 40


def test_fetch_git_sha_detached_and_errors(tmp_path: Path) -> None:
    detached = tmp_path / "detached"
    _fake_repo(detached, "d" * 40 + "\n")
    assert fetch_git_sha(str(detached)) == "d" * 40
    with pytest.raises(InvalidGitRepository):
        fetch_git_sha(str(tmp_path / "nowhere"))
    missing = tmp_path / "missing"
    _fake_repo(missing, "ref: refs/heads/gone\n")
    with pytest.raises(InvalidGitRepository):
        fetch_git_sha(str(missing))


def test_fetch_package_version() -> None:
    assert fetch_package_version("pytest") == pytest.__version__
