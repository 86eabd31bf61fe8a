"""raven 6.10's ``raven.utils.urlparse``: ``urlparse`` and ``parse_qsl`` (re-exports of
:mod:`urllib.parse`), and ``register_scheme``, which makes :mod:`urllib.parse` treat a transport
scheme such as ``threaded+https`` like ``https`` (netloc, query, fragment)."""

from __future__ import annotations

import urllib.parse as _parse
from urllib.parse import parse_qsl, urlparse

__all__ = ("parse_qsl", "register_scheme", "urlparse")

_SCHEME_LISTS = tuple(name for name in dir(_parse) if name.startswith("uses_"))


def register_scheme(scheme: str) -> None:
    """Add ``scheme`` to each of urllib.parse's ``uses_*`` lists it is not in yet."""
    for name in _SCHEME_LISTS:
        schemes = getattr(_parse, name)
        if scheme not in schemes:
            schemes.append(scheme)
