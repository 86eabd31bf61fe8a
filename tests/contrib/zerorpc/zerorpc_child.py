"""Child process of test_zerorpc_middleware.py: a zerorpc server (request/reply, then push/pull)
exposing the ``random`` module on an ipc socket, with raven's SentryMiddleware registered; the
events go to the loopback Sentry server whose DSN is argv[1]. Prints one JSON line of what the
zerorpc client saw."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile

import gevent
import zerorpc

from raven.base import Client
from raven.contrib.zerorpc import SentryMiddleware
from raven.transport.http import HTTPTransport

client = Client(sys.argv[1], transport=HTTPTransport, install_sys_hook=False, install_logging_hook=False)
zerorpc.Context.get_instance().register_middleware(SentryMiddleware(client=client))
seen: dict = {}
with tempfile.TemporaryDirectory(prefix="raven-zerorpc-") as folder:
    endpoint = "ipc://" + os.path.join(folder, "reqrep")
    server = zerorpc.Server(random)
    server.bind(endpoint)
    gevent.spawn(server.run)
    caller = zerorpc.Client(timeout=10)
    caller.connect(endpoint)
    try:
        caller.choice([])
    except zerorpc.exceptions.RemoteError as exc:
        seen["reqrep_error"] = exc.name
    caller.close()
    server.close()

    endpoint = "ipc://" + os.path.join(folder, "pushpull")
    puller = zerorpc.Puller(random)
    puller.bind(endpoint)
    gevent.spawn(puller.run)
    pusher = zerorpc.Pusher()
    pusher.connect(endpoint)
    pusher.choice([])
    for _ in range(50):
        gevent.sleep(0.1)
        if client.delivery_stats().get("sent", 0) >= 2:
            break
    pusher.close()
    puller.close()
seen["stats"] = dict(client.delivery_stats())
print(json.dumps(seen, default=str))
client.close(timeout=5)
