"""pytest plugin: the Django names raven 6.10.0's Django tests import that current Django removed.

Loaded with ``-p raven610_django_shim`` by ``.ci/raven610/contrib.py``, for the raven-ng
run and the raven 6.10.0 reference run alike. It puts back two names and changes no behaviour of
the code under test:

- ``django.conf.urls.url`` (removed in Django 4.0): ``re_path``, which it had become an alias of;
- ``django.shortcuts.render_to_response`` (removed in Django 3.0): ``render_to_string`` of the
  template in an ``HttpResponse``, as it was;
- ``celery.task.task`` (removed in Celery 5), which raven 6.10's ``raven.contrib.django.celery``
  imports (and so its Django tests, through it): Celery's ``shared_task`` decorator.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import django.conf.urls
import django.shortcuts
from django.http import HttpResponse
from django.template import loader
from django.urls import re_path


def _render_to_response(
    template_name: Any, context: Any = None, content_type: Any = None, status: Any = None, using: Any = None
) -> HttpResponse:
    content = loader.render_to_string(template_name, context, using=using)
    return HttpResponse(content, content_type, status)


if not hasattr(django.conf.urls, "url"):
    django.conf.urls.url = re_path  # type: ignore[attr-defined]
if not hasattr(django.shortcuts, "render_to_response"):
    django.shortcuts.render_to_response = _render_to_response  # type: ignore[attr-defined]


try:
    import celery
except ImportError:  # pragma: no cover - the requirements install Celery
    celery = None
if celery is not None:
    try:
        import celery.task  # noqa: F401
    except ImportError:
        _module = types.ModuleType("celery.task")
        _module.task = celery.shared_task  # type: ignore[attr-defined]
        sys.modules["celery.task"] = _module
        celery.task = _module  # type: ignore[attr-defined]
