"""raven 6.10's serializers for Django types, registered with :mod:`raven.utils.serializer`
when this module is imported (:func:`.models.initialize` imports it).

- ``PromiseSerializer``: a lazy translation (``gettext_lazy('...')``) or any ``lazy()`` value is
  evaluated and serialized as what it stands for. raven 6.10 found the wrapped function through
  private attributes that Django 4.1 renamed; here any ``Promise`` is evaluated (through
  Django's own cast when it has one, else ``str()``).
- ``HttpRequestSerializer``: a request as ``<WSGIRequest at 0x...>`` (its address in hex;
  raven 6.10 wrote the decimal id after ``0x``).
- ``QuerySetSerializer``: ``<QuerySet: model=Name>`` without running the query.
"""

from __future__ import annotations

from typing import Any

from django.db.models.query import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise

from raven.utils.serializer import Serializer, register

__all__ = ("HttpRequestSerializer", "PromiseSerializer", "QuerySetSerializer")


def _evaluate(value: Any) -> Any:
    """What a lazy object stands for."""
    cast = getattr(value, "_proxy____cast", None)  # Django >= 4.1
    if callable(cast):
        return cast()
    func = getattr(value, "_proxy____func", None)  # Django < 4.1
    if callable(func):
        return func(*getattr(value, "_proxy____args", ()), **getattr(value, "_proxy____kw", {}))
    return str(value)


class PromiseSerializer(Serializer):
    types = (Promise,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return self.recurse(_evaluate(value), **kwargs)


class HttpRequestSerializer(Serializer):
    types = (HttpRequest,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        return f"<{type(value).__name__} at 0x{id(value):x}>"


class QuerySetSerializer(Serializer):
    types = (QuerySet,)

    def serialize(self, value: Any, **kwargs: Any) -> Any:
        name = type(value).__name__
        model = getattr(value, "model", None)
        if model is not None:
            return f"<{name}: model={model.__name__}>"
        return f"<{name}: (Unbound)>"


register(PromiseSerializer)
register(HttpRequestSerializer)
register(QuerySetSerializer)
