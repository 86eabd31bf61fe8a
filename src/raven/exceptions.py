"""Exceptions of the raven 6.10 public API, kept with their meaning."""

from __future__ import annotations

from typing import Optional


class APIError(Exception):
    """The server refused an event; ``code`` is the HTTP status."""

    def __init__(self, message: object, code: int = 0) -> None:
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class RateLimited(APIError):
    """The server asked us to stop sending for ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: object, retry_after: Optional[float] = 0) -> None:
        self.retry_after = retry_after
        super().__init__(message, 429)


class InvalidGitRepository(Exception):
    pass


class ConfigurationError(ValueError):
    """A client or transport option has a value we cannot use."""


class InvalidDsn(ConfigurationError):
    """The DSN, or one of its querystring options, is malformed."""
