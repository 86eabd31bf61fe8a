"""raven 6.10's Django middleware, for ``MIDDLEWARE`` (each also works called the old way:
built without ``get_response`` and its ``process_*`` methods called directly).

- ``SentryMiddleware`` (also ``SentryLogMiddleware``): put first in ``MIDDLEWARE`` by the app
  (:func:`.models.initialize`). While it serves a request, events captured without ``request=``
  carry that request and user, and the URL pattern the request resolved to is the events'
  ``transaction`` (``/users/{pk}/``). Both are forgotten when the response is closed (Django's
  ``request_finished``), so events from a streaming response still carry them.
- ``Sentry404CatchMiddleware``: reports each 404 response as an ``info`` message
  ``Page Not Found: <url>`` from the ``http404`` logger, unless ``IGNORABLE_404_URLS`` matches.
- ``SentryResponseErrorIdMiddleware``: when an event was captured for the request (its 500, its
  404), the response gets an ``X-Sentry-ID`` header with the event's id.
- ``DjangoRestFrameworkCompatMiddleware``: reads the body early (not forms, not octet
  streams), so it is still readable when an error is reported after a framework consumed the
  stream.

None of them ever raises into the request: a failure is logged on ``sentry.errors`` and the
response goes on.

Better than raven 6.10: the current request and transaction live in a context variable (a
thread, or an asyncio task under ASGI) instead of attributes of the one middleware instance
that every thread shares (under ASGI the transaction is not put on the thread-local
``client.transaction`` stack at all: the request's events take it from the context); the
``request_finished`` receiver is connected once instead of at every request; the 404 middleware
returns the response even when the event is not sent (6.10 returned None, which Django refuses).
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from django.conf import settings
from django.core.signals import request_finished
from django.utils.deprecation import MiddlewareMixin

__all__ = (
    "DjangoRestFrameworkCompatMiddleware",
    "Sentry404CatchMiddleware",
    "SentryLogMiddleware",
    "SentryMiddleware",
    "SentryResponseErrorIdMiddleware",
    "is_ignorable_404",
)

_errors = logging.getLogger("sentry.errors.client.django")


@dataclass
class _Serving:
    request: Any
    client: Any = None
    transaction: Any = None
    pushed: bool = False  # on client.transaction, in the thread that serves the request


_serving: contextvars.ContextVar[Optional[_Serving]] = contextvars.ContextVar(
    "raven_django_request", default=None
)


class _CurrentRequest:
    """``SentryMiddleware.thread``: raven 6.10's thread-local, its ``request`` attribute kept,
    backed by a context variable."""

    __slots__ = ()

    @property
    def request(self) -> Any:
        state = _serving.get()
        return state.request if state is not None else None

    @request.setter
    def request(self, value: Any) -> None:
        _serving.set(_Serving(value) if value is not None else None)


def current_transaction() -> Any:
    """The transaction name of the request being served in this context, or None."""
    state = _serving.get()
    return state.transaction if state is not None else None


def _finish_current() -> None:
    """Forget the request being served in this context, and take its transaction off the stack."""
    state = _serving.get()
    if state is None:
        return
    _serving.set(None)
    if state.pushed:
        try:
            stack = state.client.transaction.stack
            for index in range(len(stack) - 1, -1, -1):
                if stack[index] is state.transaction:
                    del stack[index]  # that entry only, wherever it is
                    break
        except Exception:
            pass


def _on_request_finished(sender: Any = None, **kwargs: Any) -> None:
    _finish_current()


request_finished.connect(_on_request_finished, weak=False, dispatch_uid="raven.contrib.django.request")


class _Middleware(MiddlewareMixin):
    """Django's ``MiddlewareMixin``, which may also be built without ``get_response`` (the old
    middleware style: only its ``process_*`` methods are called)."""

    def __init__(self, get_response: Optional[Callable[..., Any]] = None) -> None:
        if get_response is None:
            self.get_response = None
            self.async_mode = False
            return
        super().__init__(get_response)


def _is_asgi(request: Any) -> bool:
    from django.core.handlers.asgi import ASGIRequest

    return isinstance(request, ASGIRequest)


def _client() -> Any:
    from raven.contrib.django.models import client

    return client


def is_ignorable_404(uri: str) -> bool:
    """True if a 404 at ``uri`` matches one of ``IGNORABLE_404_URLS`` (not reported)."""
    return any(pattern.search(uri) for pattern in getattr(settings, "IGNORABLE_404_URLS", ()))


class Sentry404CatchMiddleware(_Middleware):
    def process_response(self, request: Any, response: Any) -> Any:
        if getattr(response, "status_code", None) != 404:
            return response
        try:
            self._capture(request)
        except Exception:
            _errors.warning("Sentry: could not report a 404", exc_info=True)
        return response

    def _capture(self, request: Any) -> None:
        if is_ignorable_404(request.get_full_path()):
            return
        client = _client()
        if not client.is_enabled():
            return
        get_data = getattr(client, "get_data_from_request", None)
        data: dict[str, Any] = dict(get_data(request)) if get_data is not None else {}
        data.update({"level": logging.INFO, "logger": "http404"})
        url = data.get("request", {}).get("url") or request.build_absolute_uri()
        result = client.captureMessage(message=f"Page Not Found: {url}", data=data)
        if result:
            request.sentry = {"project_id": data.get("project", client.remote.project), "id": result}


class SentryResponseErrorIdMiddleware(_Middleware):
    """Adds ``X-Sentry-ID`` (the event's id) to the response of a request an event was
    captured for."""

    def process_response(self, request: Any, response: Any) -> Any:
        sentry = getattr(request, "sentry", None)
        if not sentry:
            return response
        try:
            response["X-Sentry-ID"] = sentry["id"]
        except Exception:
            pass
        return response


class SentryMiddleware(_Middleware):
    #: The request being served in this thread (or task): ``SentryMiddleware.thread.request``.
    thread = _CurrentRequest()

    def process_request(self, request: Any) -> None:
        _finish_current()  # whatever an earlier request of this context left behind
        _serving.set(_Serving(request))
        return None

    def process_view(self, request: Any, func: Any, args: Any, kwargs: Any) -> None:
        state = _serving.get()
        if state is None or state.request is not request:
            return None
        try:
            client = _client()
            name_of = getattr(client, "get_transaction_from_request", None)
            if name_of is None:
                from raven.contrib.django.client import DjangoClient

                name = DjangoClient.resolver.resolve(request.path_info, getattr(request, "urlconf", None))
            else:
                name = name_of(request)
            state.transaction, state.client = name, client
            if not _is_asgi(request):
                # raven 6.10's thread-local stack (client.transaction): under ASGI a request is not
                # served by one thread, and its events take the name from this context instead.
                client.transaction.push(name)
                state.pushed = True
        except Exception:
            _errors.debug("Sentry: could not name the transaction", exc_info=True)
        return None

    def request_finished(self, **kwargs: Any) -> None:
        """raven 6.10's receiver: forget the current request (the module's receiver does it)."""
        _finish_current()


SentryLogMiddleware = SentryMiddleware


class DjangoRestFrameworkCompatMiddleware(_Middleware):
    non_cacheable_types = (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/octet-stream",
    )

    def process_request(self, request: Any) -> None:
        """Read the body now (see the module's docstring), unless it is a form or a stream."""
        content_type = request.META.get("CONTENT_TYPE", "")
        if any(kind in content_type for kind in self.non_cacheable_types):
            return None
        try:
            request.body  # noqa: B018  (reading it keeps it)
        except Exception:
            pass  # too big, or already read: the view finds out itself
        return None
