"""Child process of test_sanic_integration.py: a Sanic app with raven.contrib.sanic, served by
Sanic's own server on 127.0.0.1 (sanic-testing's client makes real HTTP requests to it), its
events delivered to the loopback Sentry server whose DSN is argv[1]. Prints one JSON line per
request: the path, the status and the X-Sentry-ID header; then a last line with extension
checks."""

from __future__ import annotations

import json
import logging
import sys

from sanic import Sanic, response
from sanic.exceptions import NotFound

from raven.base import Client
from raven.contrib.sanic import Sentry, logging_configured
from raven.transport.http import HTTPTransport

Sanic.test_mode = True
dsn = sys.argv[1]
app = Sanic("raven_sanic_test")
client = Client(dsn, transport=HTTPTransport, install_sys_hook=False, install_logging_hook=False)
signalled: list[dict] = []
logging_configured.connect(lambda sender, **kwargs: signalled.append(sorted(kwargs)), weak=False)
sentry = Sentry(app, client=client, logging=True, level=logging.WARNING, logging_exclusions=("noisy",))


@app.route("/boom/", methods=["GET", "POST"])
async def boom(request):
    raise ValueError("boom in a Sanic handler")


@app.route("/missing/")
async def missing(request):
    raise NotFound("no such thing")


@app.route("/capture/")
async def capture(request):
    try:
        raise KeyError("handled in Sanic")
    except KeyError:
        event_id = request.app.ctx.extensions["sentry"].captureException()
    return response.json({"event_id": event_id, "last": sentry.last_event_id})


@app.route("/message/")
async def message(request):
    event_id = request.app.ctx.sentry.captureMessage("hello from Sanic")
    return response.text(event_id)


@app.route("/log/")
async def log(request):
    logging.getLogger("sanic_child.app").error("logged in a handler")
    return response.text("logged")


def show(path, resp):
    print(json.dumps({"path": path, "status": resp.status, "sentry_id": resp.headers.get("X-Sentry-ID")}))


client_ = app.test_client
_, resp = client_.get("/boom/?q=1", headers={"X-Trace": "s-1"})
show("/boom/", resp)
_, resp = client_.post("/boom/", json={"order": 17})
show("/boom/ json", resp)
_, resp = client_.post("/boom/", data={"name": "Ada"})
show("/boom/ form", resp)
_, resp = client_.get("/missing/")
show("/missing/", resp)
_, resp = client_.get("/capture/")
show("/capture/", resp)
print(json.dumps({"capture_body": resp.json}))
_, resp = client_.get("/message/")
show("/message/", resp)
_, resp = client_.get("/log/")
show("/log/", resp)
assert client.flush(10)
print(json.dumps({"signalled": signalled, "outside_request": sentry.last_event_id}))
