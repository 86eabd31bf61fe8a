"""A Django site (one module: settings, URLs, views) served by a real WSGI server, for
tests/e2e/test_bugsink_django.py; one JSON line out.

argv[1] is a JSON object with ``dsn``. The child sets Django up with
``'raven.contrib.django.raven_compat'`` and ``RAVEN_CONFIG['dsn']``, serves the site with wsgiref
on 127.0.0.1, requests a view that raises (a POST with a query string, a JSON body and headers,
as a signed-in user) and a page that does not exist, then flushes the settings' client and prints
``ids`` (the ``X-Sentry-ID`` of each answer), ``statuses``, ``url`` (the site's), ``flushed`` and
``stats`` (``delivery_stats()``). Bugsink and the assertions stay in the pytest process.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

PARAMS = json.loads(sys.argv[1])

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="raven-ng-e2e",
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["raven.contrib.django.raven_compat"],
    MIDDLEWARE=[
        "raven.contrib.django.raven_compat.middleware.SentryResponseErrorIdMiddleware",
        "raven.contrib.django.raven_compat.middleware.Sentry404CatchMiddleware",
        f"{__name__}.SignedInUser",
    ],
    ROOT_URLCONF=__name__,
    DATABASES={},
    RAVEN_CONFIG={
        "dsn": PARAMS["dsn"],
        "release": "e2e-django-1.0",
        "environment": "e2e",
        "install_sys_hook": False,
    },
)
django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


class User:
    """A signed-in user, without a database."""

    pk = 42
    email = "ada@example.org"
    is_authenticated = True

    def get_username(self) -> str:
        return "ada"


class SignedInUser:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = User()  # type: ignore[assignment]
        response: HttpResponse = self.get_response(request)
        return response


def checkout(request: HttpRequest, order_id: int) -> HttpResponse:
    raise ValueError(f"payment declined for order {order_id}")


urlpatterns = [path("orders/<int:order_id>/checkout/", checkout)]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def fetch(url: str, body: Any = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "User-Agent": "e2e-browser/2.0",
            "Content-Type": "application/json",
            "X-Order-Channel": "web",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("X-Sentry-ID", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Sentry-ID", "")


def main() -> None:
    from django.core.wsgi import get_wsgi_application

    from raven.contrib.django.models import get_client

    httpd = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    site = f"http://127.0.0.1:{httpd.server_port}"
    try:
        error_status, error_id = fetch(f"{site}/orders/1017/checkout/?coupon=SPRING", b'{"card": "visa"}')
        missing_status, missing_id = fetch(f"{site}/no-such-page/")
    finally:
        httpd.shutdown()
        httpd.server_close()
    client = get_client()
    flushed = client.flush(10)
    print(
        json.dumps(
            {
                "ids": {"error": error_id, "missing": missing_id},
                "statuses": {"error": error_status, "missing": missing_status},
                "url": site,
                "flushed": flushed,
                "stats": client.delivery_stats(),
            }
        )
    )


if __name__ == "__main__":
    main()
