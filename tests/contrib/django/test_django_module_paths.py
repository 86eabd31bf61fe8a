"""Every module path raven 6.10 had under ``raven.contrib.django`` imports, with its public names;
``import raven`` does not import Django; without Django, the error names the pip extra."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

import pytest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src")

MODELS = (
    "ProxyClient",
    "SentryDjangoHandler",
    "client",
    "get_client",
    "get_installed_apps",
    "initialize",
    "install_middleware",
    "logger",
    "register_serializers",
    "sentry_exception_handler",
)
MIDDLEWARE = (
    "DjangoRestFrameworkCompatMiddleware",
    "Sentry404CatchMiddleware",
    "SentryLogMiddleware",
    "SentryMiddleware",
    "SentryResponseErrorIdMiddleware",
    "is_ignorable_404",
)

#: raven 6.10's modules under raven.contrib.django and the names they defined for others.
RAVEN610_NAMES: dict[str, tuple[str, ...]] = {
    "raven.contrib.django": ("DjangoClient", "default_app_config"),
    "raven.contrib.django.apps": ("RavenConfig",),
    "raven.contrib.django.client": (
        "DjangoClient",
        "format_sql",
        "install_sql_hook",
        "is_authenticated",
        "record_sql",
    ),
    "raven.contrib.django.models": MODELS,
    "raven.contrib.django.handlers": ("SentryHandler",),
    "raven.contrib.django.logging": ("SentryHandler",),
    "raven.contrib.django.middleware": MIDDLEWARE,
    "raven.contrib.django.middleware.wsgi": ("Sentry",),
    "raven.contrib.django.resolver": ("RouteResolver", "get_regex"),
    "raven.contrib.django.serializers": ("HttpRequestSerializer", "PromiseSerializer", "QuerySetSerializer"),
    "raven.contrib.django.utils": ("get_data_from_template", "get_host", "linebreak_iter"),
    "raven.contrib.django.views": ("client", "extract_auth_vars", "is_valid_origin", "report", "with_origin"),
    "raven.contrib.django.urls": ("urlpatterns",),
    "raven.contrib.django.templatetags": (),
    "raven.contrib.django.templatetags.raven": ("register", "sentry_public_dsn"),
    "raven.contrib.django.management": (),
    "raven.contrib.django.management.commands": (),
    "raven.contrib.django.management.commands.raven": ("Command", "StoreJsonAction"),
    "raven.contrib.django.celery": ("CeleryClient", "send_raw", "send_raw_integrated"),
    "raven.contrib.django.celery.models": (),
    "raven.contrib.django.celery.tasks": ("client",),
    "raven.contrib.django.raven_compat": ("DjangoClient", "default_app_config"),
    "raven.contrib.django.raven_compat.handlers": ("SentryHandler",),
    "raven.contrib.django.raven_compat.models": MODELS,
    "raven.contrib.django.raven_compat.middleware": MIDDLEWARE,
    "raven.contrib.django.raven_compat.middleware.wsgi": ("Sentry",),
    "raven.contrib.django.raven_compat.management": (),
    "raven.contrib.django.raven_compat.management.commands": (),
    "raven.contrib.django.raven_compat.management.commands.raven": ("Command", "StoreJsonAction"),
    "raven.contrib.django.raven_compat.templatetags": (),
    "raven.contrib.django.raven_compat.templatetags.raven": ("register", "sentry_public_dsn"),
}


@pytest.mark.parametrize("module", sorted(RAVEN610_NAMES))
def test_module_path_and_names(module: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imported = importlib.import_module(module)
    missing = [name for name in RAVEN610_NAMES[module] if not hasattr(imported, name)]
    assert missing == []


def test_raven_compat_names_are_the_same_objects() -> None:
    from raven.contrib.django import handlers, middleware, models
    from raven.contrib.django.raven_compat import handlers as compat_handlers
    from raven.contrib.django.raven_compat import middleware as compat_middleware
    from raven.contrib.django.raven_compat import models as compat_models

    assert compat_models.client is models.client
    assert compat_models.get_client is models.get_client
    assert compat_handlers.SentryHandler is handlers.SentryHandler
    assert compat_middleware.SentryMiddleware is middleware.SentryMiddleware


def test_deprecated_logging_module_warns() -> None:
    sys.modules.pop("raven.contrib.django.logging", None)
    with pytest.warns(DeprecationWarning, match="raven.contrib.django.handlers"):
        importlib.import_module("raven.contrib.django.logging")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PYTHONPATH"] = os.path.abspath(SRC)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_import_raven_does_not_import_django() -> None:
    result = _python(
        "import sys\n"
        "import raven, raven.base, raven.contrib, raven.handlers.logging\n"
        "import raven.middleware, raven.utils.conf\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_django_the_error_names_the_extra() -> None:
    result = _python(
        "import sys\n"
        "sys.modules['django'] = None\n"
        "try:\n"
        "    import raven.contrib.django.raven_compat\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FrameworkMissing ")
    assert "pip install 'raven-ng[django]'" in result.stdout


def test_the_integration_imports_without_settings() -> None:
    # raven 6.10's test suite imports raven.contrib.django.models in every teardown when Django
    # is installed, configured or not: it must not raise, and the client then comes from the
    # environment.
    result = _python(
        "from raven.contrib.django.models import client\n"
        "client.events = []\n"
        "print(client.__class__.__name__, client.is_enabled(), client.events)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DjangoClient False []"
