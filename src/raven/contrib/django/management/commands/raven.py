"""``manage.py raven test``: send a test event with the settings' client and say whether it
arrived, as ``raven test`` does (the same output: the client's configuration, the event id,
then ``success! (delivered in N ms)`` or ``error! ...`` with the reason).

``--data`` and ``--tags`` take JSON (event fields, tags). The command waits for the server's
answer (no fixed sleep) and exits 0 when the event was delivered, 1 when it was not (refused,
unreachable, timed out, rate limited, dropped by a filter) or the client has no valid DSN.
A client without delivery of its own (a test double whose ``send()`` keeps events) counts as
delivered once its ``send()`` took the event.

Better than raven 6.10: 6.10 slept 3 seconds and exited 0 whatever had happened; a malformed
``--data`` is a usage error, not a print and an exit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from typing import Any, Optional

from django.core.management.base import BaseCommand, CommandError

from raven._log_collector import LogCollector, collecting
from raven.cli import _flush_timeout, _lost_summary
from raven.scripts.runner import send_test_message

__all__ = ("Command", "StoreJsonAction")


class StoreJsonAction(argparse.Action):
    """Store the option's value parsed as JSON; a usage error when it is not JSON."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Optional[str] = None) -> None:
        raw = values[0] if isinstance(values, list) else values
        try:
            value = json.loads(raw)
        except ValueError:
            parser.error(f"Invalid JSON was used for option {self.dest}. Received: {raw}")
        setattr(namespace, self.dest, value)


class _Out(io.TextIOBase):
    """``sys.stdout`` for the shared ``raven test`` helpers: the command's own stdout, as is."""

    def __init__(self, command: BaseCommand) -> None:
        self._command = command

    def write(self, text: str) -> int:
        self._command.stdout.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._command.stdout.flush()


class Command(BaseCommand):
    help = "Commands to interact with the Sentry client"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("command", nargs=1, help="test: send a test event")
        parser.add_argument("--data", action=StoreJsonAction, nargs=1, dest="data", help="event fields, JSON")
        parser.add_argument("--tags", action=StoreJsonAction, nargs=1, dest="tags", help="event tags, JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        command = options.get("command") or (args[:1] or [None])
        if command not in ("test", ["test"]):
            raise CommandError("Usage: manage.py raven test")

        from raven.contrib.django.models import client, get_client

        real = get_client()
        with collecting() as collector:
            self._test(client, real, collector, options)

    def _test(self, client: Any, real: Any, collector: LogCollector, options: dict[str, Any]) -> None:
        before = int(real.delivery_stats().get("sent", 0) or 0)
        started = time.perf_counter()
        with contextlib.redirect_stdout(_Out(self)):
            ident = send_test_message(client, {"tags": options.get("tags"), "data": options.get("data")})
        if not ident:
            self._fail("error! the event was not captured (a filter or sample_rate dropped it)")
        if getattr(real, "_core", None) is None:
            self.stdout.write("success! (handed to the client's send(); it has no delivery of its own)")
            return
        settled = real.flush(_flush_timeout(real))
        elapsed = (time.perf_counter() - started) * 1000
        stats = real.delivery_stats()
        if settled and int(stats.get("sent", 0) or 0) > before:
            self.stdout.write(f"success! (delivered in {elapsed:.0f} ms)")
            return
        if not settled:
            self.stdout.write(
                f"error! not delivered within {_flush_timeout(real):.0f} s ({_lost_summary(stats)})"
            )
        else:
            self.stdout.write(f"error! the event was not delivered ({_lost_summary(stats)})")
        for message in collector.messages:
            self.stdout.write(f"  {message}")
        raise CommandError("the test event was not delivered", returncode=1)

    def _fail(self, message: str) -> None:
        self.stdout.write(message)
        raise CommandError("the test event was not delivered", returncode=1)
