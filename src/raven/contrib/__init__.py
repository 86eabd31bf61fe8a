"""raven 6.10's framework integrations: ``raven.contrib.<framework>``.

Importing ``raven.contrib`` imports no framework (raven 6.10's did not either): each integration
module imports its own framework when it is imported itself, and a missing framework is an
``ImportError`` naming the pip extra to install (``pip install 'raven-ng[flask]'``), so the
common ``try: from raven.contrib.flask import Sentry / except ImportError`` keeps working.

raven 6.10's ``raven.contrib.async`` is not provided: ``async`` is a keyword since Python 3.7, so
no supported Python can import a module of that name.
"""

from __future__ import annotations

__all__: list[str] = []
