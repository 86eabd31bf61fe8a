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


def assert_timed_out_while_ticking(result: dict[str, Any], server: Any, timeout: float) -> None:
    """A ``single`` run against a silent server: lost to the timeout, the loop ticking meanwhile."""
    assert result["flushed"] is True
    assert result["stats"] == {"sent": 0, "lost": {"network_error:error": 1}}
    assert server.connections >= 1
    assert result["elapsed"] < timeout + 2.0  # the timeout, plus a generous margin
    assert result["ticks"] >= 10  # a 10 ms ticker kept running while the request waited
    assert result["longest_stall"] < 0.4
    assert "timeout error" in result["stderr"].lower()
