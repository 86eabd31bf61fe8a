"""raven 6.10 names kept in existing modules: they are the objects they stood for and behave so
(registry transport classes resolve lazily, threaded/http helpers, breadcrumb helpers, defaults)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import raven.breadcrumbs as breadcrumbs
import raven.transport as transport
import raven.transport.base as transport_base
import raven.transport.registry as registry
import raven.transport.threaded as threaded
from raven.conf import defaults
from raven.exceptions import InvalidGitRepository
from raven.transport.http import urlopen as http_urlopen
from raven.utils import compat, once
from raven.utils.http import urlopen
from raven.versioning import InvalidGitRepository as versioning_invalid_git_repository


def test_registry_names_are_the_transport_classes() -> None:
    from raven.transport.gevent import GeventedHTTPTransport
    from raven.transport.requests import RequestsHTTPTransport

    assert registry.GeventedHTTPTransport is GeventedHTTPTransport
    assert registry.RequestsHTTPTransport is RequestsHTTPTransport
    assert registry.HTTPTransport is transport.HTTPTransport
    assert registry.urlparse.urlparse("threaded+https://k@h/1").hostname == "h"
    try:
        registry.NoSuchTransport  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchTransport" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown name must raise AttributeError")


def test_registry_names_load_their_library_only_when_read() -> None:
    code = (
        "import sys, raven.transport.registry as r\n"
        "before = 'twisted' in sys.modules or 'raven.transport.twisted' in sys.modules\n"
        "cls = r.TwistedHTTPTransport\n"
        "print(before, cls.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "raven.transport.twisted"]


def test_threaded_module_names() -> None:
    assert threaded.Queue is compat.Queue
    assert threaded.check_threads is compat.check_threads
    assert threaded.DEFAULT_TIMEOUT == defaults.SHUTDOWN_TIMEOUT
    worker = threaded.AsyncWorker()
    try:
        assert worker.options["shutdown_timeout"] == threaded.DEFAULT_TIMEOUT
    finally:
        worker.stop(0)


def test_transport_base_flag_and_http_urlopen() -> None:
    assert transport_base.has_newstyle_transports is True
    assert http_urlopen is urlopen


def test_breadcrumbs_names() -> None:
    crumb: dict[str, Any] = {
        "type": "default",
        "level": "info",
        "message": "m",
        "category": "c",
        "data": None,
    }
    assert breadcrumbs.event_payload_considered_equal(crumb, dict(crumb))
    assert not breadcrumbs.event_payload_considered_equal(crumb, {**crumb, "message": "other"})
    assert breadcrumbs.once is once
    assert breadcrumbs.get_code is compat.get_code

    # The buffer collapses consecutive repeats with that rule.
    buffer = breadcrumbs.BreadcrumbBuffer()
    for message in ("a", "a", "b", "a"):
        buffer.record(timestamp=1.0, message=message, category="x")
    assert [c["message"] for c in buffer.get_buffer()] == ["a", "b", "a"]


def test_defaults_client_and_versioning_error() -> None:
    assert defaults.CLIENT == "raven.contrib.django.DjangoClient"
    assert versioning_invalid_git_repository is InvalidGitRepository
