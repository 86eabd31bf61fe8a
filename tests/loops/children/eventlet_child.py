"""eventlet scenarios for tests/loops/test_green.py (after ``monkey_patch``); one JSON line out.

The scenarios are gevent_child.py's, run through an eventlet :class:`Green` shim.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).parent))

from gevent_child import Green, main  # noqa: E402  (imports neither gevent nor raven)


class Eventlet(Green):
    name = "eventlet"
    extra = "eventlet"

    def __init__(self, patch: bool) -> None:
        import eventlet

        if patch:
            eventlet.monkey_patch()
        self.eventlet = eventlet

    def spawn(self, function: Callable[[], Any]) -> Any:
        return self.eventlet.spawn(function)

    def join(self, handle: Any, timeout: float) -> Any:
        with self.eventlet.Timeout(timeout):
            return handle.wait()

    def sleep(self, seconds: float) -> None:
        self.eventlet.sleep(seconds)

    def original_thread(self) -> Any:
        from eventlet import patcher

        return patcher.original("_thread")


if __name__ == "__main__":
    main(Eventlet, "eventlet")
