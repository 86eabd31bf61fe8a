"""raven 6.10's Zope integration: ``ZopeSentryHandler``, a ``SentryHandler`` that finds the Zope
request and the exception on the stack of the log call, and ``ZopeSentryHandlerFactory``, the
datatype of the ``<sentry>`` section of a Zope ``zope.conf`` (``component.xml`` beside this module)::

    %import raven.contrib.zope
    <eventlog>
      <sentry>
        dsn https://public@sentry.example.com/1
        level ERROR
      </sentry>
    </eventlog>

Zope logs a publishing error without the traceback object the handler needs; so, as in raven
6.10, ``emit`` looks through the calling frames (:mod:`raven.contrib.zope.request`) for the
request being published and the ``exc_info`` being handled, and sends the record with that
exception, the request (URL, method, query string, body, headers) and the authenticated user (id
and email; nothing for Zope's anonymous ``nobody``). Records of raven's own loggers are not sent.
The handler's level defaults to ERROR. The section's keys go to the client as raven 6.10 passed
them (unknown ones, such as ``timeout``, are ignored: a transport option belongs in the DSN).

Better than raven 6.10: CRITICAL records get the request and exception too (raven 6.10 looked
only for records up to ERROR); the request goes in the event's ``request`` (raven 6.10's record
attribute ended in ``extra``); the exception's own stacktrace is sent once, without a second copy
as a ``stacktrace``; ZConfig's internal section attributes are not passed to the client.

Importing this module imports ZConfig and AccessControl (``pip install 'raven-ng[zope]'``).
"""

from __future__ import annotations

import logging
import sys
from inspect import currentframe, getinnerframes, getouterframes
from typing import Any

from raven.contrib._framework import require

require("ZConfig", "zope", "raven.contrib.zope")
require("AccessControl", "zope", "raven.contrib.zope")

from AccessControl.users import nobody  # noqa: E402
from ZConfig.components.logger.factory import Factory  # noqa: E402

from raven.contrib.zope import request as zope_request  # noqa: E402
from raven.handlers.logging import SentryHandler  # noqa: E402
from raven.utils.stacks import iter_stack_frames  # noqa: E402

__all__ = (
    "ZopeSentryHandler",
    "ZopeSentryHandlerFactory",
    "logger",
    # raven 6.10's module namespace
    "Factory",
    "nobody",
    "SentryHandler",
    "iter_stack_frames",
    "getouterframes",
    "currentframe",
    "getinnerframes",
)

logger = logging.getLogger(__name__)

#: The record attribute that becomes the event's ``request`` (a dotted name is an event field).
HTTP_ATTRIBUTE = "sentry.interfaces.Http"


class ZopeSentryHandlerFactory(Factory):
    """The ``<sentry>`` section's datatype: a :class:`ZopeSentryHandler` with the section's keys."""

    def __init__(self, section: Any) -> None:
        Factory.__init__(self)
        self.section = section

    def getLevel(self) -> Any:  # noqa: N802  (ZConfig's name)
        return self.section.level

    def create(self) -> ZopeSentryHandler:
        options = {key: value for key, value in vars(self.section).items() if not key.startswith("_")}
        return ZopeSentryHandler(**options)


class ZopeSentryHandler(SentryHandler):
    """A ``SentryHandler`` that adds the Zope request, user and exception found on the stack."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        level = kw.get("level") or logging.ERROR
        kw["level"] = level
        super().__init__(*args, **kw)
        self.setLevel(level)

    def emit(self, record: logging.LogRecord) -> None:
        if self.can_record(record):
            try:
                self._add_zope_data(record)
            except Exception:
                logger.warning("Could not extract data from request", exc_info=True)
        super().emit(record)

    def _add_zope_data(self, record: logging.LogRecord) -> None:
        request, exc_info = zope_request.find_request_and_exc_info(sys._getframe(1))
        if exc_info and not (record.exc_info and all(record.exc_info)):
            record.exc_info = tuple(exc_info)
        if not request:
            return
        try:
            setattr(record, HTTP_ATTRIBUTE, zope_request.http_interface(request))
        except Exception:
            logger.warning("Could not extract data from request", exc_info=True)
        try:
            record.user = zope_request.user_interface(request, nobody)
        except Exception:
            logger.warning("Could not extract the user from request", exc_info=True)
