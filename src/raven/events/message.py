"""Log messages as Sentry's ``logentry``."""

from __future__ import annotations

from typing import Any

from .serialize import safe_str, safe_value
from .settings import DEFAULT_SETTINGS, MAX_MESSAGE_LENGTH, EventSettings


def format_message(message: str, params: Any) -> str:
    """``message % params`` as logging does it; the bare message when that fails."""
    if params is None or (type(params) in (tuple, list, dict) and not params):
        return message
    try:
        if type(params) is list:
            params = tuple(params)
        elif type(params) is not tuple and not isinstance(params, dict):
            params = (params,)
        formatted = message % params
        return safe_str(formatted, MAX_MESSAGE_LENGTH)
    except Exception:
        return message


def logentry(
    message: object, params: object = None, settings: EventSettings = DEFAULT_SETTINGS
) -> dict[str, Any]:
    """``{"message", "params", "formatted"}``: the template, the safe params, and the result of
    ``%``-formatting (the template itself without params or when formatting fails). Never raises."""
    text = safe_str(message, MAX_MESSAGE_LENGTH)
    if params is None or (type(params) in (tuple, list, dict) and not params):
        return {"message": text, "params": [], "formatted": text}
    safe_params = safe_value(params, settings)
    if type(safe_params) is not list and type(safe_params) is not dict:
        safe_params = [safe_params]
    return {"message": text, "params": safe_params, "formatted": format_message(text, params)}
