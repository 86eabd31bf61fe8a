"""raven-ng: a maintained, drop-in successor of raven-python 6.10, the classic Sentry client.

>>> from raven import Client
>>> client = Client('https://public_key@sentry.example.com/1')

Importing ``raven`` loads no optional library (gevent, eventlet, tornado, twisted, requests,
aiohttp): each transport imports its own when it is used.
"""

from __future__ import annotations

from raven.version import VERSION

__all__ = ("VERSION", "Client", "get_version", "setup_logging", "fetch_git_sha", "fetch_package_version")

__docformat__ = "restructuredtext en"

#: Build identifier appended by ``get_version()`` (raven 6.10 read a git checkout's HEAD here).
__build__ = None


def get_revision() -> None:
    """raven 6.10 returned the git revision of a source checkout; an installed package has none."""
    return None


def get_version() -> str:
    """The package version (``raven --version``)."""
    return VERSION if not __build__ else f"{VERSION} ({__build__})"


# Imported last: these modules import ``raven`` themselves.
from raven.base import Client  # noqa: E402
from raven.conf import setup_logging  # noqa: E402
from raven.utils.versioning import fetch_git_sha, fetch_package_version  # noqa: E402
