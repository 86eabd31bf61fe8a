"""The Django app of ``'raven.contrib.django.raven_compat'`` (label ``raven_compat``): sets the
integration up when the app registry is ready, as ``raven.contrib.django``'s does."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ("RavenCompatConfig",)


class RavenCompatConfig(AppConfig):
    name = "raven.contrib.django.raven_compat"
    label = "raven_compat"
    verbose_name = "Raven"
    default = True

    def ready(self) -> None:
        from raven.contrib.django.models import initialize

        initialize()
