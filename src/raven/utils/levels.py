"""Event levels: what users pass (logging ints, raven names) to what Sentry accepts."""

from __future__ import annotations

import logging

__all__ = ("LEVELS", "normalize_level")

#: The levels Sentry accepts, most severe first.
LEVELS = ("fatal", "error", "warning", "info", "debug")

_BY_NAME = {
    "fatal": "fatal",
    "critical": "fatal",
    "error": "error",
    "exception": "error",
    "err": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "information": "info",
    "log": "info",
    "debug": "debug",
    "trace": "debug",
    "notset": "debug",
}

_BY_NUMBER = {
    logging.CRITICAL: "fatal",
    logging.ERROR: "error",
    logging.WARNING: "warning",
    logging.INFO: "info",
    logging.DEBUG: "debug",
    logging.NOTSET: "debug",
}


def _from_number(number: int) -> str:
    # Custom logging levels fall to the nearest standard level at or below them.
    if number >= logging.CRITICAL:
        return "fatal"
    if number >= logging.ERROR:
        return "error"
    if number >= logging.WARNING:
        return "warning"
    if number >= logging.INFO:
        return "info"
    return "debug"


def normalize_level(value: object, default: str = "error") -> str:
    """``logging.ERROR`` / ``'error'`` / ``'ERROR'`` / ``'40'`` -> ``'error'``; ``critical`` -> ``fatal``.

    Anything unrecognisable gives ``default``: a level is never a reason to lose an event.
    """
    if isinstance(value, str):
        found = _BY_NAME.get(value)
        if found is not None:
            return found
        text = value.strip().lower()
        found = _BY_NAME.get(text)
        if found is not None:
            return found
        if text.isdigit():
            return _from_number(int(text))
        return default
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        found = _BY_NUMBER.get(value)
        return found if found is not None else _from_number(value)
    if isinstance(value, float) and value == value:
        return _from_number(int(value))
    return default
