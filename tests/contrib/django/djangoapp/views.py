from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from raven.contrib.django.raven_compat.models import client


class Ignored(Exception):
    """Listed in RAVEN_CONFIG['ignore_exceptions']."""


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def boom(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise ValueError(f"boom from the view ({request.method})")


def ignored(request: HttpRequest) -> HttpResponse:
    raise Ignored("not reported")


def template_error(request: HttpRequest) -> HttpResponse:
    return render(request, "error.html")


def log_error(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("logger", "djangoapp.audit")
    logging.getLogger(name).error("audit failed for %s", "order-17", extra={"request": request})
    return HttpResponse("logged")


def capture_message(request: HttpRequest) -> HttpResponse:
    event_id = client.captureMessage("captured in a view")
    return HttpResponse(event_id or "")


def dsn(request: HttpRequest) -> HttpResponse:
    return render(request, "dsn.html")
