"""raven 6.10's text helpers: ``force_text``, ``to_unicode`` (text that never fails), ``to_string``
(UTF-8 bytes), ``is_protected_type``, and the deprecated ``transform`` alias of
:func:`raven.utils.serializer.transform`."""

from __future__ import annotations

import datetime
import decimal
import warnings
from typing import Any

__all__ = ("force_text", "is_protected_type", "to_string", "to_unicode", "transform")

_PROTECTED_TYPES = (
    int,
    type(None),
    float,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
)


def is_protected_type(obj: object) -> bool:
    """True for the values ``force_text(..., strings_only=True)`` leaves as they are
    (None, numbers, dates and times)."""
    return isinstance(obj, _PROTECTED_TYPES)


def force_text(s: Any, encoding: str = "utf-8", strings_only: bool = False, errors: str = "strict") -> Any:
    """``s`` as text: bytes are decoded with ``encoding``; other objects give ``str(s)``.

    With ``strings_only``, protected types (see :func:`is_protected_type`) come back unchanged.
    An exception whose bytes arguments cannot be decoded gives its arguments, each made text,
    joined with spaces; other decoding errors are raised.
    """
    if isinstance(s, str):
        return s
    if strings_only and is_protected_type(s):
        return s
    try:
        if isinstance(s, (bytes, bytearray)):
            return bytes(s).decode(encoding, errors)
        unicode_method = getattr(s, "__unicode__", None)
        return unicode_method() if callable(unicode_method) else str(s)
    except UnicodeDecodeError:
        if not isinstance(s, BaseException):
            raise
        return " ".join(force_text(arg, encoding, strings_only, errors) for arg in s.args)


def to_unicode(value: Any) -> str:
    """``value`` as text; never raises ('(Error decoding value)' when nothing works)."""
    try:
        return str(force_text(value))
    except (UnicodeEncodeError, UnicodeDecodeError):
        return "(Error decoding value)"
    except Exception:
        # str() itself failed (a broken __str__): name the type instead.
        try:
            return repr(type(value))
        except Exception:
            return "(Error decoding value)"


def to_string(value: Any) -> bytes:
    """``value`` as UTF-8 bytes: valid UTF-8 bytes as they are, anything else through ``to_unicode``."""
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
            return value
        except UnicodeDecodeError:
            pass
    return to_unicode(value).encode("utf-8", "replace")


def transform(value: Any) -> Any:
    """Deprecated: use :func:`raven.utils.serializer.transform`."""
    warnings.warn(
        "raven.utils.encoding.transform is deprecated; use raven.utils.serializer.transform",
        DeprecationWarning,
        stacklevel=2,
    )
    from raven.utils.serializer import transform as serializer_transform

    return serializer_transform(value)
