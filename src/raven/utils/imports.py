"""raven 6.10's ``import_string``: a module or an attribute of a module, from its dotted path."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ("import_string",)


def import_string(key: str) -> Any:
    """``'pkg.mod.Name'`` -> the object ``Name`` of module ``pkg.mod``; ``'pkg'`` -> the module.

    A dotted name is read as ``module.attribute``; when the attribute is a submodule not
    imported yet, it is imported (as ``__import__`` with a ``fromlist`` did in raven 6.10).
    ImportError or AttributeError when the path names nothing.
    """
    key = str(key)
    if "." not in key:
        return importlib.import_module(key)
    module_name, attribute = key.rsplit(".", 1)
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        try:
            return importlib.import_module(key)
        except ImportError:
            pass
        raise
