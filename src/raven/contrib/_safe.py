"""What an integration does when its own code fails: it logs and lets the request go on.

raven 6.10's integrations logged such failures with ``client.logger.exception`` (once per
request, so a broken user loader filled the logs); ours go to the ``sentry.errors`` logger through
the rate-limited diagnostics log (one line per kind of failure per minute, with the number of
repeats suppressed), never to stdout, and never raise into the application's request handling.
"""

from __future__ import annotations

from raven._runtime import logs

__all__ = ("log_failure",)


def log_failure(integration: str, step: str) -> None:
    """Log the exception being handled: ``integration`` failed in ``step`` (rate-limited)."""
    logs.errors.error(
        f"contrib:{integration}:{step}",
        "Sentry: the %s integration failed in %s; the request goes on without it",
        integration,
        step,
        exc_info=True,
    )
