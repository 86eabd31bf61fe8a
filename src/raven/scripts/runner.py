"""The ``raven`` console script (``raven test [DSN]``, ``raven spool DIR``), and raven 6.10's
helpers of this module.

The command itself is :mod:`raven.cli`. ``send_test_message(client, options)`` and the optparse
callback ``store_json`` stay for code that reuses them (raven 6.10's Django ``manage.py raven
test`` command did): ``send_test_message`` writes the client's configuration and the test
event's id to stdout (it is a command's output) and exits with status 1 when the client has no
valid DSN or is disabled; it does not wait for delivery (``client.flush()`` does).
"""

from __future__ import annotations

import json
import optparse
import sys
from collections.abc import Mapping
from typing import Any, Optional

from raven import Client, get_version
from raven.cli import describe_client, get_loadavg, get_uid, send_test_event
from raven.cli import main as _main

__all__ = ("main", "get_loadavg", "get_uid", "get_version", "send_test_message", "store_json", "Client")


def store_json(option: Any, opt_str: str, value: str, parser: Any) -> None:
    """optparse callback: store the option's value parsed as JSON (OptionValueError if it is not)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        raise optparse.OptionValueError(f"Invalid JSON was used for option {opt_str}: {value!r}") from None
    setattr(parser.values, option.dest, parsed)


def send_test_message(client: Any, options: Mapping[str, Any]) -> Optional[str]:
    """Send the ``raven test`` event with ``client``; ``options`` may hold ``data`` and ``tags``.

    Returns the event id; exits with status 1 if the DSN is not valid or the client is disabled.
    """
    out = sys.stdout
    describe_client(client, out)
    if not client.remote.is_active():
        out.write("Error: DSN configuration is not valid!\n")
        sys.exit(1)
    if not client.is_enabled():
        out.write("Error: Client reports as being disabled!\n")
        sys.exit(1)
    return send_test_event(client, options.get("data"), options.get("tags"), out)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``raven`` command: exits with ``raven.cli.main``'s status."""
    sys.exit(_main(argv))


if __name__ == "__main__":
    main()
