"""Per-thread event context of a client (tags, extra, user, request, breadcrumbs), as in raven 6.10.

A :class:`Context` is a ``threading.local``: each thread sees its own data, created on first use.
Contexts that are *active* in a thread receive the breadcrumbs recorded in that thread
(:func:`raven.breadcrumbs.record`); a client's context activates itself in every thread that uses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from threading import get_ident as get_thread_ident  # noqa: F401  (raven 6.10 name)
from typing import TYPE_CHECKING, Any, Optional
from weakref import ref as weakref

from raven.breadcrumbs import BreadcrumbBuffer, make_buffer

if TYPE_CHECKING:
    from raven.base import Client

__all__ = ("Context", "TransactionStack", "get_active_contexts")

_active = threading.local()

#: Keys whose dict values are merged key by key rather than replaced.
_MERGED_KEYS = frozenset({"tags", "extra"})


def get_active_contexts() -> list[Context]:
    """The contexts active in the current thread."""
    contexts: Optional[set[Context]] = getattr(_active, "contexts", None)
    return list(contexts) if contexts else []


def _active_set() -> Optional[set[Context]]:
    """The current thread's active set itself (no copy), for the breadcrumb fast path."""
    return getattr(_active, "contexts", None)


class Context(threading.local, Mapping[str, Any]):
    """Stores event context for the current thread until cleared.

    >>> client.context.merge({'tags': {'key': 'value'}})
    >>> try:
    ...     handle_request()
    ... finally:
    ...     client.context.clear()
    """

    data: dict[str, Any]
    breadcrumbs: BreadcrumbBuffer
    exceptions_to_skip: set[Any]

    def __init__(self, client: Optional[Client] = None) -> None:
        # Runs once per thread (threading.local semantics), with the same arguments.
        self._client = weakref(client) if client is not None else None
        self.breadcrumbs = make_buffer(client is None or bool(getattr(client, "enable_breadcrumbs", True)))
        self.data = {}
        self.exceptions_to_skip = set()
        self.activate()

    @property
    def client(self) -> Optional[Client]:
        return self._client() if self._client is not None else None

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.data!r}>"

    def __enter__(self) -> Context:
        self.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.deactivate()

    def activate(self, sticky: bool = False) -> None:
        """Make this context receive the breadcrumbs recorded in the current thread."""
        contexts = getattr(_active, "contexts", None)
        if contexts is None:
            contexts = _active.contexts = set()
        contexts.add(self)

    def deactivate(self) -> None:
        contexts = getattr(_active, "contexts", None)
        if contexts is not None:
            contexts.discard(self)

    def merge(self, data: Mapping[str, Any], activate: bool = True) -> None:
        """Merge ``data`` in: ``tags`` and ``extra`` key by key, other keys replaced."""
        if activate:
            self.activate()
        if not isinstance(data, Mapping):
            return  # bad input is ignored, never raised into the application
        current = self.data
        for key, value in data.items():
            if key in _MERGED_KEYS and isinstance(value, Mapping):
                target = current.get(key)
                if not isinstance(target, dict):
                    target = current[key] = {}
                target.update(value)
            else:
                current[key] = value

    def set(self, data: dict[str, Any]) -> None:
        self.data = data

    def get(self) -> dict[str, Any]:  # type: ignore[override]  # raven's signature, not Mapping.get
        return self.data

    def clear(self, deactivate: Optional[bool] = None) -> None:
        """Forget the data and breadcrumbs of this thread.

        Unless told otherwise, the context stays active in the thread that created the client and
        is deactivated in other threads (worker threads of a pool come and go), as raven did.
        """
        self.data = {}
        self.exceptions_to_skip.clear()
        self.breadcrumbs.clear()
        if deactivate is None:
            client = self.client
            deactivate = client is not None and threading.get_ident() != getattr(
                client, "main_thread_id", None
            )
        if deactivate:
            self.deactivate()


class _TransactionContext:
    def __init__(self, stack: TransactionStack, name: Any) -> None:
        self.stack = stack
        self.name = name

    def __enter__(self) -> _TransactionContext:
        self.stack.push(self.name)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stack.pop(self.name)


class TransactionStack(threading.local):
    """The per-thread stack of transaction names (``client.transaction``), as raven 6.10."""

    stack: list[Any]

    def __init__(self) -> None:
        self.stack = []

    def __len__(self) -> int:
        return len(self.stack)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.stack)

    def __call__(self, name: Any) -> _TransactionContext:
        return _TransactionContext(self, name)

    def clear(self) -> None:
        self.stack = []

    def peek(self) -> Any:
        return self.stack[-1] if self.stack else None

    def push(self, name: Any) -> Any:
        self.stack.append(name)
        return name

    def pop(self, name: Any = None) -> Any:
        if name is None:
            return self.stack.pop() if self.stack else None
        while self.stack:
            if self.stack.pop() is name:
                return name
        return None
