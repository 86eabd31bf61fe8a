"""raven 6.10's ``raven.contrib.django.utils``: the template frame of a template error, and the
request's host without Django's ``ALLOWED_HOSTS`` check.

``get_data_from_template(source, debug)`` turns Django's template debug information (the
``template_debug`` dict Django attaches to template errors, or the older ``(origin, (start,
end))`` source pair) into raven 6.10's ``template`` interface (file name, line number, three
lines of context either side) and a ``culprit`` (the template's path below ``templates/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from django.conf import settings

__all__ = ("get_data_from_template", "get_host", "linebreak_iter")

_CONTEXT_LINES = 3


def linebreak_iter(template_source: str) -> Iterator[int]:
    """The offset where each line of ``template_source`` starts, then one past the end."""
    yield 0
    position = template_source.find("\n")
    while position >= 0:
        yield position + 1
        position = template_source.find("\n", position + 1)
    yield len(template_source) + 1


def _code(item: Any) -> Any:
    # Django's debug information gives (line number, code) pairs; keep the code, without its
    # line break (raven 6.10 kept it, and every context line ended in "\n").
    if isinstance(item, (list, tuple)) and len(item) == 2:
        item = item[1]
    return item.rstrip("\r\n") if isinstance(item, str) else item


def _lines_from_debug(debug: Any) -> tuple[Optional[str], int, int, list[Any]]:
    """(file name, line number, first line number, lines indexed by line number) from Django's
    ``template_debug``."""
    numbered: Sequence[Any] = debug["source_lines"]
    first = int(numbered[0][0]) if numbered else 0
    lines: list[Any] = [""] * first
    lines.extend(code for _, code in numbered)
    return debug.get("name"), int(debug["line"]), first, lines


def _lines_from_source(source: Any) -> Optional[tuple[Optional[str], int, int, list[Any]]]:
    """The same from the pre-1.9 ``(origin, (start, end))`` pair; None if the span is not found."""
    origin, (start, end) = source
    name = getattr(origin, "loadname", None) or getattr(origin, "name", None)
    reload = getattr(origin, "reload", None)
    text = reload() if reload is not None else getattr(origin, "source", "")
    lineno: Optional[int] = None
    lines: list[Any] = []
    upto = 0
    for number, next_start in enumerate(linebreak_iter(text)):
        if start >= upto and end <= next_start:
            lineno = number
        lines.append(text[upto:next_start])
        upto = next_start
    if not lines or lineno is None:
        return None
    return name, lineno, 0, lines


def get_data_from_template(source: Any, debug: Any = None) -> dict[str, Any]:
    """``{'template': {...}, 'culprit': ...}`` for a template error, or ``{}`` when the failing
    line cannot be found. ``TypeError`` when neither ``source`` nor ``debug`` is given (as 6.10).

    Better than raven 6.10: the context lines stop at the template's first and last lines (6.10
    padded them with empty strings) and carry no line break.
    """
    if debug is not None:
        name, lineno, first, lines = _lines_from_debug(debug)
    elif source:
        found = _lines_from_source(source)
        if found is None:
            return {}
        name, lineno, first, lines = found
    else:
        raise TypeError("Source or debug needed")

    if name is None:
        filename = culprit = "<unknown filename>"
    else:
        filename = str(name)
        culprit = filename.split("/templates/")[-1]
    if not first <= lineno < len(lines):
        return {}
    while len(lines) > lineno + 1 and not _code(lines[-1]):
        lines.pop()  # the "line" after the file's last line break
    return {
        "template": {
            "filename": os.path.basename(filename),
            "abs_path": filename,
            "pre_context": [_code(line) for line in lines[max(lineno - _CONTEXT_LINES, first) : lineno]],
            "context_line": _code(lines[lineno]),
            "lineno": lineno,
            "post_context": [_code(line) for line in lines[lineno + 1 : lineno + 1 + _CONTEXT_LINES]],
        },
        "culprit": culprit,
    }


def get_host(request: Any) -> str:
    """The request's host as Django's ``get_host`` finds it, without raising
    ``DisallowedHost`` (an event about a request with a bad Host header must still be sent)."""
    meta = request.META
    if getattr(settings, "USE_X_FORWARDED_HOST", False) and "HTTP_X_FORWARDED_HOST" in meta:
        return str(meta["HTTP_X_FORWARDED_HOST"])
    if "HTTP_HOST" in meta:
        return str(meta["HTTP_HOST"])
    host = str(meta.get("SERVER_NAME", ""))
    port = str(meta.get("SERVER_PORT", ""))
    if port and port != ("443" if request.is_secure() else "80"):
        host = f"{host}:{port}"
    return host
