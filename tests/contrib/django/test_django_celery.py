"""With Celery installed, the Django app reports failing Celery tasks through the settings' client
(raven 6.10's ``SentryDjangoHandler.install_celery``, on ``raven.contrib.celery``)."""

from __future__ import annotations

from typing import Any

import pytest

celery = pytest.importorskip("celery")


def test_failing_task_is_reported_with_the_settings_client(sentry: Any) -> None:
    from raven.contrib.django import models

    assert models._handler is not None and models._handler.celery_handler is not None
    app = celery.Celery("raven-ng-django-tests", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task(name="djangoapp.tasks.settle")
    def settle(order: str) -> None:
        raise KeyError(f"no ledger for {order}")

    settle.apply(args=("A-17",))

    event = sentry.event()
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "KeyError"
    assert "no ledger for A-17" in exception["value"]
    assert event["release"] == "djangoapp@1.2.3"
