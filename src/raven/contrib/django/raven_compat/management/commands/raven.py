"""``manage.py raven test`` for the ``raven_compat`` app
(:mod:`raven.contrib.django.management.commands.raven`)."""

from __future__ import annotations

from raven.contrib.django.management.commands.raven import Command, StoreJsonAction

__all__ = ("Command", "StoreJsonAction")
