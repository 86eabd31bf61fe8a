"""The Django app of ``'raven.contrib.django'`` (raven 6.10's ``RavenConfig``, same name and
label): when the app registry is ready it sets the integration up (:func:`.models.initialize`)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ("RavenConfig",)


class RavenConfig(AppConfig):
    name = "raven.contrib.django"
    label = "raven_contrib_django"
    verbose_name = "Raven"

    def ready(self) -> None:
        from raven.contrib.django.models import initialize

        initialize()
