"""The client's API on an integration's own object, as raven 6.10's Flask, Sanic, Bottle and
web.py objects offered it: ``captureException`` / ``captureMessage`` and the context helpers,
each asserting first that the application configured a client."""

from __future__ import annotations

from typing import Any, Optional

__all__ = ("ClientFacade",)


class ClientFacade:
    """Delegates to ``self.client``; integrations add the request's data in :meth:`_capture`."""

    client: Any

    def _take_options(self, **given: Any) -> None:
        """``init_app``'s options: each one given (not None) replaces the constructor's."""
        for name, value in given.items():
            if value is not None:
                setattr(self, name, value)

    def _capture(self, method: str, *args: Any, **kwargs: Any) -> Optional[str]:
        result: Optional[str] = getattr(self.client, method)(*args, **kwargs)
        return result

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert self.client, f"{method} called before application configured"
        if method.startswith("capture"):
            return self._capture(method, *args, **kwargs)
        return getattr(self.client, method)(*args, **kwargs)

    def captureException(self, *args: Any, **kwargs: Any) -> Optional[str]:  # noqa: N802
        result: Optional[str] = self._call("captureException", *args, **kwargs)
        return result

    def captureMessage(self, *args: Any, **kwargs: Any) -> Optional[str]:  # noqa: N802
        result: Optional[str] = self._call("captureMessage", *args, **kwargs)
        return result

    def user_context(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("user_context", *args, **kwargs)

    def tags_context(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("tags_context", *args, **kwargs)

    def extra_context(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("extra_context", *args, **kwargs)


def install_logging(sender: Any, client: Any, level: int, exclusions: Any, signal: Any) -> Any:
    """raven 6.10's ``logging=True``: a ``SentryHandler`` on the root logger (less ``exclusions``),
    then ``signal`` (the integration's ``logging_configured``) sent by ``sender``."""
    from raven.conf import setup_logging
    from raven.handlers.logging import SentryHandler

    kwargs: dict[str, Any] = {}
    if exclusions is not None:
        kwargs["exclude"] = exclusions
    handler = SentryHandler(client, level=level)
    setup_logging(handler, **kwargs)
    signal.send(sender, sentry_handler=SentryHandler, **kwargs)
    return handler
