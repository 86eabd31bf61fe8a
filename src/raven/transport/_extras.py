"""Lazy import of the optional library a transport needs, with an error naming the pip extra."""

from __future__ import annotations

import importlib
import types

from raven.exceptions import ConfigurationError

__all__ = ("require",)


def require(module: str, extra: str) -> types.ModuleType:
    """Import ``module`` now, or raise ConfigurationError telling how to install it.

    Transports call this from their constructor (not at import time), so ``import raven``
    never imports optional libraries, and a missing one fails at ``Client(...)`` with a
    message naming the ``raven-ng[<extra>]`` extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"this transport needs the {module!r} library, which cannot be imported ({exc}); "
            f"install it with: pip install 'raven-ng[{extra}]'"
        ) from exc
