"""raven 6.10's Django logging handler: :class:`raven.handlers.logging.SentryHandler` sending
through the settings' client, so ``LOGGING`` can name it before the client exists::

    LOGGING = {
        'version': 1,
        'handlers': {
            'sentry': {'level': 'ERROR',
                       'class': 'raven.contrib.django.raven_compat.handlers.SentryHandler',
                       'tags': {'custom-tag': 'x'}},
        },
        'root': {'level': 'WARNING', 'handlers': ['sentry']},
    }

A record's ``request`` attribute (``logger.error(..., extra={'request': request})``, as
Django's ``django.request`` logger does) gives the event its request and user.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from raven.handlers.logging import SentryHandler as BaseSentryHandler

__all__ = ("SentryHandler",)


class SentryHandler(BaseSentryHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The client is the settings' one, looked up when a record comes (Django configures
        # logging before the apps, and the client, are ready).
        self.tags: Optional[dict[str, Any]] = kwargs.pop("tags", None)
        self._client: Any = kwargs.get("client")
        logging.Handler.__init__(self, level=kwargs.get("level", logging.NOTSET))

    @property
    def client(self) -> Any:
        """The client given as ``client=`` or assigned, else the settings' client."""
        if self._client is not None:
            return self._client
        from raven.contrib.django.models import client

        return client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    def _emit(self, record: logging.LogRecord, **kwargs: Any) -> Optional[str]:
        request = getattr(record, "request", None)
        return super()._emit(record, request=request, **kwargs)
