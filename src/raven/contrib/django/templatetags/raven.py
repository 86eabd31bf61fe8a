"""raven 6.10's ``{% sentry_public_dsn %}``: the DSN without its secret, for a browser client::

    {% load raven %}
    <script>Raven.config('{% sentry_public_dsn 'https' %}').install()</script>

``{% sentry_public_dsn %}`` gives a scheme-relative DSN (``//public@host/1``), with a scheme
argument ``https://public@host/1``; an empty string when the client is disabled.
"""

from __future__ import annotations

from typing import Optional

from django import template

__all__ = ("register", "sentry_public_dsn")

register = template.Library()


@register.simple_tag
def sentry_public_dsn(scheme: Optional[str] = None) -> str:
    from raven.contrib.django.models import client

    return client.get_public_dsn(scheme) or ""
