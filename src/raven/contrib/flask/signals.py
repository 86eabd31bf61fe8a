"""raven 6.10's blinker signals of the Flask integration: ``logging_configured`` is sent by
``Sentry.init_app`` once it installed its logging handler, with ``sentry_handler`` (the handler
class, as raven 6.10 sent it) and ``exclude`` (the logger names excluded, when given)."""

from __future__ import annotations

import blinker

__all__ = ("raven_signals", "logging_configured")

raven_signals = blinker.Namespace()
logging_configured = raven_signals.signal("logging_configured")
