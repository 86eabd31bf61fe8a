"""raven 6.10's ``CeleryClient``: a ``DjangoClient`` that hands each encoded event to a Celery
task (routing key ``sentry``) instead of sending it from the web process; a worker sends it
with the settings' client::

    SENTRY_CLIENT = 'raven.contrib.django.celery.CeleryClient'

``send_raw`` / ``send_raw_integrated`` are the tasks (``shared_task``, so they bind to the
project's Celery app). Celery 4 and later serialize task arguments as JSON, which cannot carry
the encoded event's bytes: they travel as base64 text here (raven 6.10 relied on pickle, the
Celery 3 default, and fails with JSON). Without Celery installed the module still imports and
the "tasks" run at once in the calling process (``.delay()`` calls the function): the events
are sent, only not through a queue.

Failures of Celery tasks themselves are reported by ``raven.contrib.celery`` (the Django app
installs its handler when Celery is installed), not by this module.
"""

from __future__ import annotations

import base64
from typing import Any, Callable

from raven.base import Client
from raven.contrib.django.client import DjangoClient

__all__ = ("CeleryClient", "send_raw", "send_raw_integrated")

_B64 = "__raven_b64__"


def _pack(message: Any) -> Any:
    if isinstance(message, (bytes, bytearray)):
        return {_B64: base64.b64encode(bytes(message)).decode("ascii")}
    return message


def _unpack(message: Any) -> Any:
    if isinstance(message, dict) and set(message) == {_B64}:
        return base64.b64decode(message[_B64])
    return message


class _InProcess:
    """Stands for a Celery task without Celery: ``delay()`` runs the function now."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.run = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    apply_async = delay


def _task(func: Callable[..., Any]) -> Any:
    try:
        from celery import shared_task
    except ImportError:
        return _InProcess(func)
    return shared_task(routing_key="sentry")(func)


def _settings_client() -> Any:
    from raven.contrib.django.models import get_client

    return get_client()


@_task
def send_raw_integrated(kwargs: dict[str, Any]) -> None:
    """Send an event (``Client.send``'s keywords) with the settings' client."""
    client = _settings_client()
    Client.send_encoded(client, client.encode(kwargs))


@_task
def send_raw(*args: Any, **kwargs: Any) -> None:
    """Send an encoded event with the settings' client (``Client.send_encoded``'s arguments)."""
    if args:
        args = (_unpack(args[0]), *args[1:])
    if "message" in kwargs:
        kwargs["message"] = _unpack(kwargs["message"])
    Client.send_encoded(_settings_client(), *args, **kwargs)


class CeleryClient(DjangoClient):
    def send_integrated(self, kwargs: dict[str, Any]) -> Any:
        return send_raw_integrated.delay(kwargs)

    def send_encoded(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            args = (_pack(args[0]), *args[1:])
        if "message" in kwargs:
            kwargs["message"] = _pack(kwargs["message"])
        return send_raw.delay(*args, **kwargs)
