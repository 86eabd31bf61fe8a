"""A Django view's exception, and a 404, stored by a real Bugsink with the request and the user.

The Django site runs in a child process (children/django_child.py: Django is set up once per
process, and this one may hold another project's settings); Bugsink and the assertions stay here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from bugsink_api import BugsinkProject

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loops"))

from harness import run_child  # noqa: E402

pytestmark = pytest.mark.e2e

CHILDREN = Path(__file__).parent / "children"


def test_django_view_exception_and_404_are_stored(bugsink_project: BugsinkProject) -> None:
    pytest.importorskip("django")

    result = run_child("django_child.py", "django", timeout=120, children=CHILDREN, dsn=bugsink_project.dsn)

    assert result["statuses"] == {"error": 500, "missing": 404}
    assert result["flushed"] is True
    assert result["stats"]["sent"] == 2
    site = result["url"]

    error = bugsink_project.wait_for_event(result["ids"]["error"])
    assert error.exceptions[-1]["type"] == "ValueError"
    assert error.exceptions[-1]["value"] == "payment declined for order 1017"
    assert "checkout" in error.function_names()
    data = error.data
    assert data["release"] == "e2e-django-1.0"
    assert data["environment"] == "e2e"
    assert data["transaction"] == "/orders/{order_id}/checkout/"
    request = data["request"]
    assert request["method"] == "POST"
    assert request["url"] == f"{site}/orders/1017/checkout/"
    assert request["query_string"] in ("coupon=SPRING", [["coupon", "SPRING"]])
    assert request["data"] in ('{"card": "visa"}', {"card": "visa"})
    headers = dict(request["headers"])
    assert headers["User-Agent"] == "e2e-browser/2.0"
    assert headers["X-Order-Channel"] == "web"
    assert request["env"]["REMOTE_ADDR"] == "127.0.0.1"
    assert data["user"] == {
        "id": "42",
        "username": "ada",
        "email": "ada@example.org",
        "ip_address": "127.0.0.1",
    }

    missing = bugsink_project.wait_for_event(result["ids"]["missing"])
    assert missing.level == "info"
    assert missing.message == f"Page Not Found: {site}/no-such-page/"
    assert missing.data["logger"] == "http404"
    assert missing.data["request"]["url"] == f"{site}/no-such-page/"
