"""raven 6.10's ``DjangoClient``: a ``raven.Client`` that knows the Django request.

What it adds to every capture (``captureException``, ``captureMessage``, the logging handler):

- ``request`` and ``user`` from the request given as ``request=``, else the request the
  ``SentryMiddleware`` is serving in this thread (see :mod:`._request` for the fields); after a
  capture the request carries ``request.sentry = {'project_id', 'id'}`` (the
  ``X-Sentry-ID`` middleware reads it);
- for template errors, the template's file name, line and surrounding lines (Django's
  ``template_debug``), with the template as ``culprit``;
- frames of ``django.*`` modules are never in-app (``include_paths`` defaults to
  ``INSTALLED_APPS``, which names ``django.contrib`` apps);
- the ``site`` tag from ``django.contrib.sites`` (its name, else its domain, else
  ``SITE_ID``) when the client has no ``site`` option;
- ``get_transaction_from_request()`` names the URL pattern (:mod:`.resolver`), which the
  middleware uses as the event's ``transaction``;
- with ``install_sql_hook=True`` (the default), the queries Django runs become breadcrumbs
  (:mod:`.sql`).

Everything it reads from the request is read defensively: a broken request or user never stops
the event, and never raises into the application.

Better than raven 6.10: ``data=`` given to a capture is not changed in place, and a
``request`` / ``user`` it already holds are kept (6.10 overwrote the request). The events keep
raven-ng's fast path: nothing here overrides ``build_msg`` (6.10 did, for the in-app marking
and the site tag, which are done before building here).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping
from typing import Any, Optional

from django.conf import settings
from django.http import HttpRequest
from django.template import TemplateSyntaxError

from raven.base import Client
from raven.contrib.django import _request
from raven.contrib.django.middleware import SentryMiddleware, current_transaction
from raven.contrib.django.resolver import RouteResolver
from raven.contrib.django.sql import format_sql, install_sql_hook, record_sql
from raven.contrib.django.utils import get_data_from_template

__all__ = ("DjangoClient", "format_sql", "install_sql_hook", "is_authenticated", "record_sql")

is_authenticated = _request.is_authenticated

_DJANGO_PREFIX = "django."


def _exception_value(event_type: str, exc_info: Any) -> Optional[BaseException]:
    if exc_info is True or (exc_info is None and event_type.rpartition(".")[2] == "Exception"):
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def _template_source(exc_value: BaseException) -> tuple[Any, Any, bool]:
    """``(source, debug, is_template_error)`` of a template error (raven 6.10's three tests)."""
    source = getattr(exc_value, "django_template_source", None)
    debug = getattr(exc_value, "template_debug", None)
    if source is not None or debug is not None:
        return source, debug, True
    legacy = getattr(exc_value, "source", None)
    if isinstance(exc_value, TemplateSyntaxError) and isinstance(legacy, (tuple, list)) and legacy:
        from django.template.base import Origin

        if isinstance(legacy[0], Origin):
            return legacy, None, True
    return None, None, False


class DjangoClient(Client):
    logger = logging.getLogger("sentry.errors.client.django")
    resolver = RouteResolver()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        hook = kwargs.pop("install_sql_hook", True)
        Client.__init__(self, *args, **kwargs)
        # Frames of django.* are never the application's, whatever include_paths (the
        # installed apps, django.contrib.* among them) says.
        event_settings = self._settings
        self._settings = dataclasses.replace(
            event_settings,
            include_paths=frozenset(
                p for p in event_settings.include_paths if not p.startswith(_DJANGO_PREFIX)
            ),
            exclude_paths=event_settings.exclude_paths | {_DJANGO_PREFIX},
        )
        if hook:
            self.install_sql_hook()

    def install_sql_hook(self) -> None:
        install_sql_hook()

    # -- the request

    def get_user_info(self, request: Any) -> dict[str, Any]:
        """The event's ``user`` for ``request`` (:func:`._request.get_user_info`)."""
        return _request.get_user_info(request)

    def get_data_from_request(self, request: Any) -> dict[str, Any]:
        """``{'request': ..., 'user': ...}`` for ``request``."""
        result: dict[str, Any] = {}
        self.update_data_from_request(request, result)
        return result

    def update_data_from_request(self, request: Any, result: dict[str, Any]) -> None:
        """Put the event's ``user`` and ``request`` for ``request`` into ``result`` (each only
        when ``result`` has none yet)."""
        if result.get("user") is None:
            result["user"] = self.get_user_info(request)
        if result.get("request") is None:
            result["request"] = _request.request_interface(request)

    def get_transaction_from_request(self, request: Any) -> str:
        """The URL pattern ``request`` matched, readable (``/api/{project_id}/store/``)."""
        path = getattr(request, "path_info", None) or request.path
        return self.resolver.resolve(path, getattr(request, "urlconf", None))

    # -- capturing

    def _site_name(self) -> Any:
        if "django.contrib.sites" not in getattr(settings, "INSTALLED_APPS", ()):
            return None
        try:
            from django.contrib.sites.models import Site

            site = Site.objects.get_current()
            return site.name or site.domain
        except Exception:
            # No database, no such site: the configured id, if any.
            return getattr(settings, "SITE_ID", None)

    def _add_template(self, event_type: str, kwargs: Mapping[str, Any], data: dict[str, Any]) -> None:
        exc_value = _exception_value(event_type, kwargs.get("exc_info"))
        if exc_value is None:
            return
        source, debug, is_template = _template_source(exc_value)
        if not is_template:
            return
        if source is None and debug is None:
            self.logger.info("Unable to get template source from exception")
            return
        data.update(get_data_from_template(source, debug))

    def _add_transaction(self, kwargs: dict[str, Any], data: Mapping[str, Any]) -> None:
        """The request's transaction when this thread's ``client.transaction`` stack is empty
        (under ASGI the request is not served by one thread); as raven 6.10, none when the
        event has a ``culprit`` (a template error's)."""
        if (
            kwargs.get("transaction")
            or data.get("transaction")
            or data.get("culprit")
            or kwargs.get("culprit")
        ):
            return
        if self.transaction.peek() is not None:
            return
        name = current_transaction()
        if name is not None:
            kwargs["transaction"] = name

    def capture(self, event_type: str, request: Any = None, **kwargs: Any) -> Optional[str]:  # type: ignore[override]
        """``Client.capture``, with the Django request (``request=``, else the current one)."""
        given = kwargs.get("data")
        data: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
        kwargs["data"] = data
        if request is None:
            request = getattr(SentryMiddleware.thread, "request", None)
        is_http_request = isinstance(request, HttpRequest)
        if self.is_enabled():
            try:
                if is_http_request:
                    self.update_data_from_request(request, data)
                self._add_template(event_type, kwargs, data)
                if not self.site and "site" not in data:
                    site = self._site_name()
                    if site is not None:
                        data["site"] = site
                self._add_transaction(kwargs, data)
            except Exception:
                self.error_logger.debug("could not read the Django request", exc_info=True)

        result = super().capture(event_type, **kwargs)

        if is_http_request and result:
            try:
                request.sentry = {"project_id": data.get("project", self.remote.project), "id": result}
            except Exception:
                pass
        return result
