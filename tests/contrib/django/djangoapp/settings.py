"""Settings of the test project, as a raven 6.10 user writes them.

The DSN, the transport and the database file come from the environment, so the same settings
serve the in-process tests (which point the client at a loopback server per test) and the
``manage.py`` subprocesses.
"""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "raven-ng-tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "raven.contrib.django.raven_compat",
    "djangoapp",
]

MIDDLEWARE = [
    "raven.contrib.django.raven_compat.middleware.SentryResponseErrorIdMiddleware",
    "raven.contrib.django.raven_compat.middleware.Sentry404CatchMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "djangoapp.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RAVEN_DJANGO_TEST_DB")
        or os.path.join(tempfile.gettempdir(), f"raven-ng-django-{os.getpid()}.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        # Template errors carry Django's debug information (file, line) for the event.
        "OPTIONS": {"debug": True},
    }
]

RAVEN_CONFIG = {
    "dsn": os.environ.get("RAVEN_TEST_DSN"),
    "release": "djangoapp@1.2.3",
    "environment": "testing",
    "transport": os.environ.get("RAVEN_TEST_TRANSPORT") or None,
    "ignore_exceptions": ["djangoapp.views.Ignored"],
    # The test process is shared with the rest of the suite: no global hooks.
    "install_sys_hook": False,
    "install_logging_hook": False,
    "hook_libraries": [],
    "CELERY_LOGLEVEL": "ERROR",
}

SENTRY_ALLOW_ORIGIN = ["http://app.example.com"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "sentry": {
            "level": "ERROR",
            "class": "raven.contrib.django.raven_compat.handlers.SentryHandler",
            "tags": {"handler": "logging"},
        },
        "sentry_plain": {
            "level": "ERROR",
            "class": "raven.contrib.django.handlers.SentryHandler",
        },
    },
    "loggers": {
        # Django logs every unhandled view exception here too: it must not be sent twice.
        "django.request": {"handlers": ["sentry"], "level": "ERROR", "propagate": False},
        "djangoapp.audit": {"handlers": ["sentry"], "level": "INFO", "propagate": False},
        "djangoapp.plain": {"handlers": ["sentry_plain"], "level": "INFO", "propagate": False},
    },
}
