"""raven 6.10's ``raven.contrib.django.models``: the settings' client and the app's setup.

- ``client``: stands for the client at every use (:class:`._proxy.ProxyClient`); import it
  anywhere, even before the settings are ready.
- ``get_client(client=None, reset=False)``: the client ``SENTRY_CLIENT`` names (a dotted path,
  or a class; default ``raven.contrib.django.DjangoClient``), built once from the settings:
  ``RAVEN_CONFIG`` (or ``SENTRY_CONFIG``) first, then each ``SENTRY_<OPTION>`` setting it lacks
  (:func:`raven.utils.conf.convert_options`: ``dsn``, ``release``, ``environment``,
  ``transport`` as a class or a dotted path, ``ignore_exceptions``, ...), with
  ``include_paths`` defaulting to the installed apps. It is built again when ``SENTRY_CLIENT``
  changes or with ``reset=True``; ``get_client('path.to.Class')`` builds a client of that class
  without keeping it; a path that cannot be imported falls back to the current client (or the
  default class), with an error logged.
- ``initialize()`` (the app's ``ready()``): registers the serializers, puts ``SentryMiddleware``
  and ``DjangoRestFrameworkCompatMiddleware`` first in ``MIDDLEWARE`` (unless listed), connects
  the signals (:class:`._signals.SentryDjangoHandler`) unless ``DISABLE_SENTRY_INSTRUMENTATION``,
  and builds the client. Once per process.

Better than raven 6.10: the client is built under a lock (two threads' first events build one
client), ``include_paths`` defaults to the apps' module names from the app registry (6.10 used
``INSTALLED_APPS`` entries, and an ``AppConfig`` path such as ``shop.apps.ShopConfig`` matched
no module), the middleware already listed under its ``raven_compat`` path is not added twice,
when the setup fails the reason is logged (6.10 swallowed it, and nothing was reported with no
word said), and outside a configured Django project (no settings) the client is built from the
environment (``SENTRY_DSN`` ...) instead of raising ``ImproperlyConfigured`` at every use.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from raven.contrib.django._proxy import ProxyClient
from raven.contrib.django._signals import SentryDjangoHandler, sentry_exception_handler
from raven.utils.conf import convert_options
from raven.utils.imports import import_string

__all__ = (
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

logger = logging.getLogger("sentry.errors.client")

DEFAULT_CLIENT = "raven.contrib.django.DjangoClient"

_client: tuple[Any, Any] = (None, None)
_client_lock = threading.RLock()


def _project_settings() -> Any:
    """Django's settings, or None outside a configured project."""
    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads them, or says there are none)
    except ImproperlyConfigured:
        return None
    return settings


def get_installed_apps() -> set[str]:
    """The installed apps' module names (``INSTALLED_APPS`` before the registry is ready)."""
    from django.apps import apps

    if apps.apps_ready:
        return {app.name for app in apps.get_app_configs()}
    conf = _project_settings()
    return set(getattr(conf, "INSTALLED_APPS", ())) if conf is not None else set()


def _client_class(path: Any) -> Any:
    return import_string(path) if isinstance(path, str) else path


def get_client(client: Any = None, reset: bool = False) -> Any:
    """The client of the settings (see the module's docstring)."""
    global _client

    conf = _project_settings()
    tmp_client = client is not None
    if not tmp_client:
        client = getattr(conf, "SENTRY_CLIENT", DEFAULT_CLIENT) if conf is not None else DEFAULT_CLIENT
    if _client[0] == client and not reset:
        return _client[1]

    with _client_lock:
        if not tmp_client and _client[0] == client and not reset:
            return _client[1]  # another thread built it meanwhile
        try:
            client_class = _client_class(client)
        except ImportError:
            logger.exception("Failed to import client: %s", client)
            if not _client[1]:
                client = DEFAULT_CLIENT
                _client = (client, get_client(client))
            return _client[1]
        source = conf if conf is not None else {}
        options = convert_options(source, defaults={"include_paths": get_installed_apps()})
        instance = client_class(**options)
        if not tmp_client:
            _client = (client, instance)
        return instance


client = ProxyClient(get_client)


def register_serializers() -> None:
    """Register the Django serializers (:mod:`.serializers`) with raven's serializer."""
    import raven.contrib.django.serializers  # noqa: F401


def install_middleware(middleware_name: str, lookup_names: Optional[tuple[str, ...]] = None) -> None:
    """Put ``middleware_name`` first in ``MIDDLEWARE`` unless one of ``lookup_names`` is there."""
    if lookup_names is None:
        lookup_names = (middleware_name,)
    attr = "MIDDLEWARE" if getattr(settings, "MIDDLEWARE", None) is not None else "MIDDLEWARE_CLASSES"
    middleware: Any = getattr(settings, attr, ()) or ()
    if set(lookup_names).isdisjoint(set(middleware)):
        kind: Any = type(middleware)
        setattr(settings, attr, kind((middleware_name,)) + middleware)


def _names(*names: str) -> tuple[str, ...]:
    """Each middleware path, and the same under ``raven_compat``."""
    prefix, compat = "raven.contrib.django.", "raven.contrib.django.raven_compat."
    return names + tuple(compat + name[len(prefix) :] for name in names)


_setup_lock = threading.Lock()
_initialized = False
_handler: Optional[SentryDjangoHandler] = None


def initialize() -> None:
    """Set the integration up (see the module's docstring); later calls do nothing."""
    global _initialized, _handler

    with _setup_lock:
        if _initialized:
            return
        _initialized = True
        try:
            register_serializers()
            install_middleware(
                "raven.contrib.django.middleware.SentryMiddleware",
                _names(
                    "raven.contrib.django.middleware.SentryMiddleware",
                    "raven.contrib.django.middleware.SentryLogMiddleware",
                ),
            )
            install_middleware(
                "raven.contrib.django.middleware.DjangoRestFrameworkCompatMiddleware",
                _names("raven.contrib.django.middleware.DjangoRestFrameworkCompatMiddleware"),
            )
            if not getattr(settings, "DISABLE_SENTRY_INSTRUMENTATION", False) and _handler is None:
                _handler = SentryDjangoHandler(client)
                _handler.install()
        except Exception:
            _initialized = False
            logger.exception("Sentry: the Django integration could not be set up")
            return
        try:
            get_client()  # build it now, so a configuration error shows at startup
        except Exception:
            logger.exception("Sentry: the client could not be built from the settings; no event is sent")
