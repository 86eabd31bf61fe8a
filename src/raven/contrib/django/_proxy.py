"""raven 6.10's ``ProxyClient``: ``raven.contrib.django.models.client``, an object that stands
for the client the settings describe at the moment it is used (:func:`.models.get_client`), so
it can be imported before Django's settings are ready and follows ``SENTRY_CLIENT`` changes.

Attribute access, assignment, deletion, ``==``, ``hash``, ``repr``, ``dir`` and ``isinstance``
(through ``__class__``) go to the current client. raven 6.10 also forwarded arithmetic and
container operators, which a client has none of; they are left out. ``bool(client)`` is True
(6.10 raised ``TypeError`` on Python 3, through its ``__len__``).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ("ProxyClient",)


class ProxyClient:
    """Stands for ``get_client()`` at every use."""

    __slots__ = ("_resolve", "__weakref__")
    _resolve: Callable[[], Any]

    def __init__(self, resolve: Callable[[], Any]) -> None:
        object.__setattr__(self, "_resolve", resolve)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_resolve")(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._resolve(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._resolve(), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105  (isinstance(client, DjangoClient) holds)
        return type(self._resolve())

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return vars(self._resolve())

    @property
    def __members__(self) -> list[str]:
        return dir(self._resolve())

    def __dir__(self) -> list[str]:
        return dir(self._resolve())

    def __repr__(self) -> str:
        return repr(self._resolve())

    def __str__(self) -> str:
        return str(self._resolve())

    def __eq__(self, other: object) -> bool:
        return bool(self._resolve() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self._resolve() != other)

    def __hash__(self) -> int:
        return hash(self._resolve())

    def __bool__(self) -> bool:
        return True
