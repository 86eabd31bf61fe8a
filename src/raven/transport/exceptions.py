"""raven 6.10 import path for the registry's exceptions."""

from raven.transport.registry import DuplicateScheme, InvalidScheme

__all__ = ["DuplicateScheme", "InvalidScheme"]
