"""raven 6.10's ``raven.utils``: the helpers it exported at package level.

``get_versions`` (the versions of the given modules and their parent packages, as the client's
``modules`` field), ``get_version_from_app``, ``get_auth_header`` (raven 6.10's
``X-Sentry-Auth`` value, timestamp included), the ``raven.errors`` ``logger``, and re-exports
of :mod:`raven.utils.basic` and two :mod:`raven.utils.compat` shims. The submodules (``json``,
``compat``, ``wsgi``, ``serializer`` ...) keep raven 6.10's import paths.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Optional

from raven.utils.basic import is_namedtuple, memoize, merge_dicts, once, varmap
from raven.utils.compat import iteritems, string_types

__all__ = (
    "get_auth_header",
    "get_version_from_app",
    "get_versions",
    "is_namedtuple",
    "iteritems",
    "logger",
    "memoize",
    "merge_dicts",
    "once",
    "string_types",
    "varmap",
)

logger = logging.getLogger("raven.errors")

# module name -> version (or None): each module is looked at once per process.
_VERSION_CACHE: dict[str, Optional[str]] = {}
_VERSION_ATTRIBUTES = ("get_version", "__version__", "VERSION", "version")


def get_version_from_app(module_name: str, app: Any) -> Optional[str]:
    """The version of module ``app``: its installed distribution's, else its own attribute.

    The attribute is the first of ``get_version`` (called if callable), ``__version__``,
    ``VERSION``, ``version``; a tuple or list is joined with dots; anything but a string, tuple or
    list gives None.
    """
    try:
        from importlib.metadata import version as distribution_version

        return str(distribution_version(module_name))
    except Exception:
        pass
    value: Any = None
    for attribute in _VERSION_ATTRIBUTES:
        if hasattr(app, attribute):
            value = getattr(app, attribute)
            break
    if callable(value):
        value = value()
    if isinstance(value, (list, tuple)):
        return ".".join(str(part) for part in value)
    if isinstance(value, str):
        return value
    return None


def get_versions(module_list: Optional[Iterable[str]] = None) -> dict[str, str]:
    """``{module: version}`` for each dotted name in ``module_list`` and each of its parents.

    ``get_versions(['django.contrib.auth'])`` looks at ``django``, ``django.contrib`` and
    ``django.contrib.auth``, importing them if needed; names that cannot be imported or have no
    version are left out.
    """
    if not module_list:
        return {}
    names: set[str] = set()
    for dotted in module_list:
        parts = str(dotted).split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    versions: dict[str, str] = {}
    for name in names:
        if name in _VERSION_CACHE:
            version = _VERSION_CACHE[name]
        else:
            module = sys.modules.get(name)
            if module is None:
                try:
                    __import__(name)
                except Exception:
                    continue
                module = sys.modules.get(name)
                if module is None:
                    continue
            try:
                version = get_version_from_app(name, module)
            except Exception:
                logger.exception("could not read the version of %s", name)
                version = None
            _VERSION_CACHE[name] = version
        if version is not None:
            versions[name] = version
    return versions


def get_auth_header(
    protocol: Any, timestamp: Any, client: Any, api_key: Any, api_secret: Any = None, **kwargs: Any
) -> str:
    """raven 6.10's ``X-Sentry-Auth`` value (with ``sentry_timestamp``), for code that builds one.

    >>> get_auth_header(7, 42, 'raven-python/1.0', 'public')
    'Sentry sentry_timestamp=42, sentry_client=raven-python/1.0, sentry_version=7, sentry_key=public'

    The transports send the header of :func:`raven._delivery.envelope.auth_header`.
    """
    fields = [
        ("sentry_timestamp", timestamp),
        ("sentry_client", client),
        ("sentry_version", protocol),
        ("sentry_key", api_key),
    ]
    if api_secret:
        fields.append(("sentry_secret", api_secret))
    return "Sentry " + ", ".join(f"{name}={value}" for name, value in fields)
