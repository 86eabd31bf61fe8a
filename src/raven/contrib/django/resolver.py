"""raven 6.10's ``RouteResolver``: the URL pattern a request path matched, in a readable form,
for the event's ``transaction`` (``/api/{project_id}/store/`` rather than ``/api/1234/store/``).

``RouteResolver().resolve(path, urlconf=None)`` walks the URLconf (``include()``s too) and
returns the matching pattern with each captured group as ``{name}`` (``{var}`` when unnamed),
or ``path`` itself when nothing matches.

Better than raven 6.10: ``path()`` routes are written from the route itself
(``api/<int:project_id>/`` gives ``/api/{project_id}/``; 6.10 simplified their regex and, since
Django 2.2 ends those with ``\\Z``, left a stray ``Z``), and the cache is keyed by the pattern
and the ``include()``s above it (6.10 keyed it by the pattern alone, so a pattern included under
two prefixes was named after whichever matched first).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from django.urls import get_resolver
from django.urls.resolvers import RoutePattern

__all__ = ("RouteResolver", "get_regex")


def get_regex(resolver_or_pattern: Any) -> Any:
    """The compiled regex of a resolver or pattern (old ``.regex``, or ``.pattern.regex``)."""
    try:
        return resolver_or_pattern.regex
    except AttributeError:
        return resolver_or_pattern.pattern.regex


class RouteResolver:
    _optional_group_matcher = re.compile(r"\(\?\:([^\)]+)\)")
    _named_group_matcher = re.compile(r"\(\?P<(\w+)>[^\)]+\)")
    _non_named_group_matcher = re.compile(r"\([^\)]+\)")
    _either_option_matcher = re.compile(r"\[([^\]]+)\|([^\]]+)\]")
    _route_param_matcher = re.compile(r"<(?:[^>:]+:)?(\w+)>")

    #: (parents..., pattern) -> readable route; shared, as raven 6.10's was.
    _cache: dict[tuple[Any, ...], str] = {}

    def _simplify(self, pattern: str) -> str:
        r"""A URL regex made readable: ``^(?P<sport>\w+)/athletes/$`` -> ``{sport}/athletes/``."""
        result = self._optional_group_matcher.sub(lambda m: m.group(1), pattern)
        result = self._named_group_matcher.sub(lambda m: "{" + m.group(1) + "}", result)
        result = self._non_named_group_matcher.sub("{var}", result)
        result = self._either_option_matcher.sub(lambda m: m.group(1), result)
        if result.endswith("\\Z"):
            result = result[:-2]
        for char in ("^", "$", "?", "\\"):
            result = result.replace(char, "")
        return result.replace("//", "/")

    def _readable(self, node: Any) -> str:
        pattern = getattr(node, "pattern", None)
        if isinstance(pattern, RoutePattern):
            return self._route_param_matcher.sub(lambda m: "{" + m.group(1) + "}", str(pattern))
        return self._simplify(get_regex(node).pattern)

    def _resolve(self, resolver: Any, path: str, parents: Optional[list[Any]] = None) -> Optional[str]:
        match = get_regex(resolver).search(path)
        if not match:
            return None
        if parents is None:
            parents = [resolver]
        elif resolver not in parents:
            parents = [*parents, resolver]

        rest = path[match.end() :]
        for pattern in resolver.url_patterns:
            if not getattr(pattern, "callback", None):  # an include()
                found = self._resolve(pattern, rest, parents)
                if found:
                    return found
                continue
            if not get_regex(pattern).search(rest):
                continue
            key = (*parents, pattern)
            try:
                return self._cache[key]
            except (KeyError, TypeError):
                pass
            result = "".join(self._readable(parent) for parent in parents) + self._readable(pattern)
            if not result.startswith("/"):
                result = "/" + result
            try:
                self._cache[key] = result
            except TypeError:
                pass
            return result
        return None

    def resolve(self, path: str, urlconf: Any = None) -> str:
        """The readable pattern ``path`` matches in ``urlconf`` (default: ``ROOT_URLCONF``), or
        ``path`` when none does."""
        resolver = get_resolver(urlconf)
        match = self._resolve(resolver, path)
        return match or path
