"""The ``raven`` console script (``raven test [DSN]``); the work is done in :mod:`raven.cli`."""

from __future__ import annotations

import sys
from typing import Optional

from raven.cli import get_loadavg, get_uid
from raven.cli import main as _main

__all__ = ("main", "get_loadavg", "get_uid")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``raven`` command: exits with ``raven.cli.main``'s status."""
    sys.exit(_main(argv))


if __name__ == "__main__":
    main()
