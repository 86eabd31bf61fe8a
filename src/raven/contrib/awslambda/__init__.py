"""raven 6.10's AWS Lambda integration: ``raven.contrib.awslambda``.

    from raven.contrib.awslambda import LambdaClient

    client = LambdaClient()              # the DSN from SENTRY_DSN

    @client.capture_exceptions
    def handler(event, context):
        ...

:class:`LambdaClient` (:mod:`.client`) sends synchronously by default and flushes before the
handler returns; what goes into the events is in :mod:`.invocation`. No AWS library is needed.
"""

from __future__ import annotations

import logging

from raven.base import Client  # noqa: F401  (raven 6.10's module namespace)
from raven.contrib.awslambda.client import LambdaClient
from raven.contrib.awslambda.invocation import DEFAULT_TAGS
from raven.transport.http import HTTPTransport  # noqa: F401  (raven 6.10's module namespace)

__all__ = ("LambdaClient", "get_default_tags")

logger = logging.getLogger("sentry.errors.client")


def get_default_tags() -> dict[str, str]:
    """Tag name -> the environment variable of Lambda it is read from (raven 6.10's)."""
    return dict(DEFAULT_TAGS)
