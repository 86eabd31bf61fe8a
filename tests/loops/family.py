"""An event-loop family as the loop tests see it: its child script and its DSN scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import run_child


@dataclass(frozen=True)
class LoopFamily:
    """A child script (tests/loops/children/) and the scheme prefix selecting its transport."""

    child: str
    scheme: str

    def dsn(self, server: Any, query: str = "") -> str:
        """``server``'s DSN selecting this family's transport (``<scheme>+http(s)://``)."""
        return str(server.dsn(scheme=f"{self.scheme}+{getattr(server, 'scheme', 'http')}", query=query))

    def run(self, scenario: str, **params: Any) -> dict[str, Any]:
        """Run ``scenario`` in a child process of this family; its JSON result."""
        return run_child(self.child, scenario, **params)
