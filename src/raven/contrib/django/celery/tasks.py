"""raven 6.10's ``raven.contrib.django.celery.tasks``: the settings' client, for Celery's task
autodiscovery (the tasks themselves are in :mod:`raven.contrib.django.celery`)."""

from __future__ import annotations

from raven.contrib.django.models import client

__all__ = ("client",)
