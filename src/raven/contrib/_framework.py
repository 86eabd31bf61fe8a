"""Lazy import of the web framework an integration needs, with an error naming the pip extra.

raven 6.10's integration modules imported their framework at the top; so do ours, through
:func:`require`, so that a missing framework says how to install it. The error is an
``ImportError`` (:class:`FrameworkMissing`), as raven 6.10's was, so code that guards the import
with ``except ImportError`` keeps working.
"""

from __future__ import annotations

import importlib
import types

__all__ = ("FrameworkMissing", "require")


class FrameworkMissing(ImportError):
    """The framework an integration needs cannot be imported."""


def require(module: str, extra: str, integration: str) -> types.ModuleType:
    """Import ``module`` now, or raise :class:`FrameworkMissing` naming ``raven-ng[<extra>]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise FrameworkMissing(
            f"{integration} needs the {module!r} package, which cannot be imported ({exc}); "
            f"install it with: pip install 'raven-ng[{extra}]'",
            name=module,
        ) from exc
