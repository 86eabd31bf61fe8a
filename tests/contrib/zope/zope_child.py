"""Child process of test_zope_handler.py: raven's Zope ``<sentry>`` section in a ZConfig
``<logger>`` (DSN argv[1]; Zope's ``<eventlog>`` is the same in Zope's own schema), then a
stand-in of Zope's publisher logging a failed request the way Zope does: a ``request`` local (a
stand-in with the Zope ``HTTPRequest`` interface the handler uses: ``stdin``, ``environ``,
``getURL()``, ``method``, ``get()``) and an ``exc_info`` local on the stack, and a log call
without the exception. Zope itself is not installed; its ``AccessControl`` is, and gives the
users."""

from __future__ import annotations

import io
import json
import logging
import sys

from AccessControl.users import SimpleUser, nobody
from ZConfig import configureLoggers

from raven.contrib.zope import ZopeSentryHandler

configureLoggers(
    f"""
    <logger>
      %import raven.contrib.zope
      <sentry>
        dsn {sys.argv[1]}
        release zope-5
        timeout 3
      </sentry>
    </logger>
    """
)
[handler] = [h for h in logging.getLogger().handlers if isinstance(h, ZopeSentryHandler)]


class StandInRequest:
    """The part of ZPublisher's HTTPRequest that ZopeSentryHandler reads."""

    def __init__(self, user: object, body: bytes) -> None:
        self.stdin = io.BytesIO(body)
        self.stdin.seek(len(body))  # the publisher already read it
        self.method = "POST"
        self.environ = {
            "REQUEST_METHOD": "POST",
            "QUERY_STRING": "a=1",
            "HTTP_HOST": "zope.example.org",
            "HTTP_USER_AGENT": "zope-test/1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "192.0.2.1",
            "SERVER_NAME": "zope.example.org",
            "SERVER_PORT": "8080",
            "wsgi.input": self.stdin,
        }
        self._user = user

    def getURL(self) -> str:  # noqa: N802  (Zope's name)
        return "http://zope.example.org/site/folder/edit"

    def get(self, key: str, default: object = None) -> object:
        return self._user if key == "AUTHENTICATED_USER" else default


def publish(request: StandInRequest) -> None:
    try:
        raise AttributeError("edit_form")
    except AttributeError:
        exc_info = sys.exc_info()  # noqa: F841  (found on the stack by the handler)
        logging.getLogger("Zope.SiteErrorLog").error("http://zope.example.org/site/folder/edit")


publish(StandInRequest(SimpleUser("editor", "secret", ["Manager"], []), b"title=New"))
publish(StandInRequest(nobody, b""))
logging.getLogger("Zope").warning("below the handler's level")
assert handler.client.flush(10)
print(json.dumps({"level": handler.level}))
handler.client.close(timeout=5)
