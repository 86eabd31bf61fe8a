"""Default values of the client settings, as raven 6.10 named them."""

from __future__ import annotations

import os
import socket
from typing import Any

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), os.pardir))

#: Seconds a transport waits for the server (the DSN's ``?timeout=`` overrides it).
TIMEOUT = 1

#: The client class raven 6.10's Django integration built by default (a dotted path).
CLIENT = "raven.contrib.django.DjangoClient"

#: The ``server_name`` of events: this host's name.
NAME = socket.gethostname() if hasattr(socket, "gethostname") else None

#: The maximum number of items kept of a list-like value.
MAX_LENGTH_LIST = 50

#: The maximum length kept of a string value.
MAX_LENGTH_STRING = 400

#: Attach the current stack to message events.
AUTO_LOG_STACKS = False

#: Send the local variables of stack frames.
CAPTURE_LOCALS = True

#: Processors applied to every event, by dotted path.
PROCESSORS = ("raven.processors.SanitizePasswordsProcessor",)

#: How many breadcrumbs an event carries at most.
MAX_BREADCRUMBS = 100

#: Seconds the client waits at interpreter exit for queued events.
SHUTDOWN_TIMEOUT = 2.0


def __getattr__(name: str) -> Any:
    # CA_BUNDLE is resolved on first use: certifi is not needed to import raven.
    if name == "CA_BUNDLE":
        import certifi

        return str(certifi.where())
    raise AttributeError(name)
