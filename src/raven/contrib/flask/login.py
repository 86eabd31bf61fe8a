"""flask-login, when installed: ``has_flask_login`` and its ``current_user``, as raven 6.10's
Flask module exposed them (flask-login is optional; without it the user is the client's address
only)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ("has_flask_login", "current_user")

current_user: Any = None
has_flask_login = False
try:
    current_user = importlib.import_module("flask_login").current_user
    has_flask_login = True
except ImportError:
    pass
