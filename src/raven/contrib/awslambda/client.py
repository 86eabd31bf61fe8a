"""raven 6.10's ``LambdaClient``: a Client for AWS Lambda handlers.

Kept from raven 6.10:

* the default transport is the synchronous ``HTTPTransport`` (the event is sent on the handler's
  thread, so it has left before the handler returns and Lambda freezes the process);
* ``@client.capture_exceptions`` (or ``@client.capture_exceptions((IOError, ...))``) wraps a
  ``handler(event, context)``: an exception it raises is captured with the invocation's event and
  context, the client's context is cleared, and the exception is raised again for Lambda;
* ``capture(..., event=..., context=...)`` adds ``request`` and ``user`` from an API Gateway event
  and ``extra`` with the event and the context (:mod:`.invocation`);
* every event gets the tags ``lambda``, ``version``, ``memory_size``, ``log_group``, ``log_stream``
  and ``region`` from Lambda's environment variables.

Better than raven 6.10:

* The wrapped handler flushes before it returns or raises, whatever the transport (a queueing
  one's events would otherwise freeze with the process), waiting at most ``shutdown_timeout``
  and never past the invocation's remaining time (less a quarter second for Lambda).
* Events captured while the handler runs (``captureMessage``, a logging handler) carry the
  invocation's request, user and extra too, not only the exception the wrapper captures.
* A tag whose variable is not set comes from the context object (function name, version, memory,
  log group and stream) or is left out; raven 6.10 sent nulls.
* The wrapper does not pass the handler's own keyword arguments on to ``captureException``, and
  ``capture_exceptions`` also works as ``with client.capture_exceptions(): ...`` (raven 6.10's
  docstring promised it; its code returned a ``functools.partial``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any, Callable, Optional

from raven.base import Client
from raven.contrib.awslambda.invocation import (
    extra_data,
    http_interface,
    lambda_tags,
    remaining_seconds,
    user_interface,
)
from raven.transport.http import HTTPTransport

__all__ = ("LambdaClient",)

#: Left for Lambda itself when the flush is bounded by the invocation's remaining time.
_MARGIN = 0.25

Handler = Callable[..., Any]


class LambdaClient(Client):
    """A Client for AWS Lambda (see the module documentation).

    >>> client = LambdaClient()
    >>> @client.capture_exceptions
    ... def handler(event, context):
    ...     raise Exception('I will be sent to sentry!')
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transport", HTTPTransport)
        self._invocation = threading.local()
        super().__init__(*args, **kwargs)

    # -- events

    def capture(self, *args: Any, **kwargs: Any) -> Optional[str]:
        event = kwargs.pop("event", None)
        context = kwargs.pop("context", None)
        current = getattr(self._invocation, "value", None)
        if event is None and context is None and current is not None:
            event, context = current
        if event is not None or context is not None:
            data = dict(kwargs.get("data") or {})
            if event is not None:
                request = http_interface(event)
                if request:
                    data.setdefault("request", request)
                user = user_interface(event)
                if user is not None:
                    data.setdefault("user", user)
            if context is not None:
                extra = data.get("extra")
                merged = dict(extra) if isinstance(extra, Mapping) else {}
                merged.update(extra_data(event, context))
                data["extra"] = merged
            kwargs["data"] = data
        return super().capture(*args, **kwargs)

    def build_msg(self, *args: Any, **kwargs: Any) -> Optional[dict[str, Any]]:
        data = super().build_msg(*args, **kwargs)
        if data is not None:
            current = getattr(self._invocation, "value", None)
            tags = data.get("tags")
            if not isinstance(tags, dict):
                tags = data["tags"] = dict(tags or {})
            for name, value in lambda_tags(current[1] if current else None).items():
                tags.setdefault(name, value)
        return data

    # -- the handler

    def capture_exceptions(self, f: Any = None, exceptions: Any = None) -> Any:  # type: ignore[override]
        """Capture what ``handler(event, context)`` raises, flush, and raise it again.

        ``@client.capture_exceptions``, ``@client.capture_exceptions((IOError, LookupError))``,
        ``@client.capture_exceptions()`` or ``with client.capture_exceptions(): ...``; by
        default ``Exception`` is captured.
        """
        if f is not None and not _is_exceptions(f) and callable(f):
            return self._wrap(f, exceptions or (Exception,))
        return _Capturing(self, f if f is not None else exceptions)

    def _wrap(self, handler: Handler, exceptions: Any) -> Handler:
        @functools.wraps(handler)
        def wrapped(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            local = self._invocation
            previous = getattr(local, "value", None)
            local.value = (event, context)
            try:
                return handler(event, context, *args, **kwargs)
            except exceptions:
                self.captureException(event=event, context=context)
                self.context.clear()
                raise
            finally:
                local.value = previous
                self.flush_for(context)

        return wrapped

    def flush_for(self, context: Any = None) -> bool:
        """Flush within ``shutdown_timeout`` and the invocation's remaining time; never raises."""
        try:
            timeout = self._shutdown_timeout()
            remaining = remaining_seconds(context)
            if remaining is not None:
                timeout = min(timeout, max(0.0, remaining - _MARGIN))
            return bool(self.flush(timeout))
        except Exception:
            return False


def _is_exceptions(value: Any) -> bool:
    if isinstance(value, tuple):
        return True
    return isinstance(value, type) and issubclass(value, BaseException)


class _Capturing:
    """``capture_exceptions(exceptions)``: a decorator of handlers, or a ``with`` block."""

    def __init__(self, client: LambdaClient, exceptions: Any) -> None:
        self.client = client
        self.exceptions = exceptions or (Exception,)

    def __call__(self, handler: Handler) -> Handler:
        return self.client._wrap(handler, self.exceptions)

    def __enter__(self) -> _Capturing:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and issubclass(exc_type, self.exceptions):
            self.client.captureException(exc_info=(exc_type, exc, tb))
            self.client.flush_for(None)
