"""raven 6.10's WSGI middleware: ``Sentry(application, client)`` reports the exceptions a WSGI
application raises, with the request that caused them.

>>> from raven import Client
>>> from raven.middleware import Sentry
>>> application = Sentry(application, Client('https://public@sentry.example.com/1'))

What it keeps from raven 6.10: before the application runs, the request (method, URL without
the query, query string, headers, ``REMOTE_ADDR`` / ``SERVER_NAME`` / ``SERVER_PORT``) goes into
the client's context (``client.http_context``), so every event captured during the request
carries it. An exception raised by the application, while the response is iterated or when it
is closed, is captured (``captureException``) and re-raised; so are ``KeyboardInterrupt`` and
``SystemExit`` with a failure status. The context and the transaction stack are cleared when
the response is closed (or exhausted). Nothing is added to the WSGI environ (raven 6.10 did not
either).

Differences from raven 6.10: ``SystemExit(None)`` (``sys.exit()``, a success) is not captured;
when the application itself raises, the context is cleared too, so its tags and user do not
reach the next request served by the thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Callable, Optional

from raven.utils.wsgi import get_current_url, get_environ, get_headers

__all__ = ("ClosingIterator", "Sentry", "common_exception_handling")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@contextmanager
def common_exception_handling(environ: Mapping[str, Any], sentry: Any) -> Iterator[None]:
    """Report what the block raises through ``sentry.handle_exception(environ)``, then re-raise.

    ``StopIteration`` and ``GeneratorExit`` are control flow, never reported; ``SystemExit`` is
    reported only with a failure status.
    """
    try:
        yield
    except (StopIteration, GeneratorExit):
        raise
    except SystemExit as exc:
        if exc.code not in (0, None):
            sentry.handle_exception(environ)
        raise
    except (Exception, KeyboardInterrupt):
        sentry.handle_exception(environ)
        raise


class ClosingIterator(Iterator[bytes]):
    """The application's response, iterated under the middleware's exception handling.

    ``close()`` closes the application's response (as WSGI requires) and then clears the
    client's context; reaching the end of the response closes it too.
    """

    def __init__(self, sentry: Any, iterable: Iterable[bytes], environ: Mapping[str, Any]) -> None:
        self.sentry = sentry
        self.environ = environ
        self._close: Optional[Callable[[], Any]] = getattr(iterable, "close", None)
        self.iterable = iter(iterable)
        self.closed = False

    def __iter__(self) -> ClosingIterator:
        return self

    def __next__(self) -> bytes:
        try:
            with common_exception_handling(self.environ, self.sentry):
                return next(self.iterable)
        except StopIteration:
            # Some servers never call close(); close at the end so the request state goes.
            self.close()
            raise

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._close is not None:
                with common_exception_handling(self.environ, self.sentry):
                    self._close()
        finally:
            self.closed = True
            _clear_request_state(self.sentry.client)


class Sentry:
    """WSGI middleware reporting the application's exceptions to Sentry.

    ``client`` defaults to ``raven.base.Client()`` (its DSN from ``SENTRY_DSN``).
    """

    def __init__(self, application: WSGIApp, client: Any = None) -> None:
        self.application = application
        if client is None:
            from raven.base import Client

            client = Client()
        self.client = client

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> ClosingIterator:
        self.client.http_context(self.get_http_context(environ))
        try:
            with common_exception_handling(environ, self):
                iterable = self.application(environ, start_response)
        except BaseException:
            _clear_request_state(self.client)
            raise
        return ClosingIterator(self, iterable, environ)

    def get_http_context(self, environ: Mapping[str, Any]) -> dict[str, Any]:
        """The event's ``request`` for this request (the body is not read)."""
        return {
            "method": environ.get("REQUEST_METHOD"),
            "url": get_current_url(environ, strip_querystring=True),
            "query_string": environ.get("QUERY_STRING"),
            "headers": dict(get_headers(environ)),
            "env": dict(get_environ(environ)),
        }

    def handle_exception(self, environ: Optional[Mapping[str, Any]] = None) -> Optional[str]:
        """Capture the exception being handled; returns the event id."""
        event_id: Optional[str] = self.client.captureException()
        return event_id


def _clear_request_state(client: Any) -> None:
    """Forget the request's context (request, user, tags, breadcrumbs) and transaction names."""
    client.context.clear()
    client.transaction.clear()
