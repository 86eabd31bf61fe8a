"""Every public name of raven 6.10's ``raven.contrib`` modules covered here (Flask, Bottle, Sanic,
web.py, zerorpc, Zope, ZConfig, Pylons, Paste) is importable from the same module path in
raven-ng (``from raven.contrib.flask import Sentry, logging_configured`` ...)."""

from __future__ import annotations

import importlib

import pytest

NAMES = {
    "raven.contrib": [],
    "raven.contrib.flask": [
        "Sentry", "make_client", "logging_configured", "raven_signals", "has_flask_login", "current_user",
        "blinker", "request", "current_app", "g", "got_request_exception", "request_finished",
        "ClientDisconnected", "setup_logging", "Client", "SentryMiddleware", "SentryHandler", "urlparse",
        "to_unicode", "get_headers", "get_environ", "convert_options",
    ],
    "raven.contrib.bottle": ["Sentry", "setup_logging", "get_data_from_request", "SentryHandler", "request"],
    "raven.contrib.bottle.utils": [
        "get_data_from_request", "logger", "urlparse", "get_headers", "get_environ",
    ],
    "raven.contrib.sanic": [
        "Sentry", "make_client", "logging_configured", "raven_signals", "blinker", "setup_logging",
        "Client", "SentryHandler", "urlparse", "to_unicode", "convert_options",
    ],
    "raven.contrib.webpy": [
        "SentryApplication", "setup_logging", "SentryHandler", "get_data_from_request", "web",
    ],
    "raven.contrib.webpy.utils": ["get_data_from_request", "web", "get_headers", "get_environ"],
    "raven.contrib.zerorpc": ["SentryMiddleware", "Client"],
    "raven.contrib.zope": [
        "ZopeSentryHandlerFactory", "ZopeSentryHandler", "Factory", "nobody", "iter_stack_frames",
        "SentryHandler", "logger", "getouterframes", "currentframe", "getinnerframes",
    ],
    "raven.contrib.zconfig": ["Factory"],
    "raven.contrib.pylons": ["Sentry", "list_from_setting", "Middleware", "Client"],
    "raven.contrib.paste": ["sentry_filter_factory", "Sentry", "Client"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(NAMES))
def test_raven610_names(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in NAMES[module] if not hasattr(imported, name)]
    assert not missing, f"{module} lacks {missing}"


def test_zconfig_components_are_shipped() -> None:
    from importlib.resources import files

    for package in ("raven.contrib.zconfig", "raven.contrib.zope"):
        assert '<sectiontype name="sentry"' in files(package).joinpath("component.xml").read_text()
