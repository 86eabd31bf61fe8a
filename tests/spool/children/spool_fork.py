"""Child of test_spool_fork.py: one client with a spool, forked twice (as gunicorn --preload and
Celery prefork do); the server is down. Each forked child captures, closes and exits; the parent
captures too, prints every event id, waits for "go" on stdin (the test starts the server), waits
until its spool directory is empty (the children's files are taken over), and prints its stats."""

from __future__ import annotations

import json
import os
import sys
import time

import raven._runtime.spool as spool_module

spool_module.RESCAN_INTERVAL = 0.3  # find the gone children's files soon, not in 30 s

from raven import Client  # noqa: E402


def main() -> None:
    dsn, spool_dir = sys.argv[1], sys.argv[2]
    client = Client(dsn, install_sys_hook=False, install_logging_hook=False, hook_libraries=())
    ids = [client.captureMessage(f"parent before the forks {n}") for n in range(5)]
    for child in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            mine = [client.captureMessage(f"child {child} event {n}") for n in range(20)]
            client.close(0.2)
            os.write(write, json.dumps(mine).encode())
            os.close(write)
            os._exit(0)
        os.close(write)
        data = b""
        while True:
            chunk = os.read(read, 65536)
            if not chunk:
                break
            data += chunk
        os.close(read)
        os.waitpid(pid, 0)
        ids += json.loads(data)
    ids += [client.captureMessage(f"parent after the forks {n}") for n in range(5)]
    print(json.dumps({"ids": ids}), flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(n.endswith(".envelope") for n in os.listdir(spool_dir)):
        time.sleep(0.05)
    client.close(2)
    print(json.dumps({"stats": client.delivery_stats()}), flush=True)


if __name__ == "__main__":
    main()
