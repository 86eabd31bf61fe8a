"""raven 6.10's ``raven.utils.transaction``: a re-export of the per-thread stack of transaction
names (``client.transaction``), which lives in :mod:`raven.context`."""

from __future__ import annotations

from raven.context import TransactionStack
from raven.context import _TransactionContext as TransactionContext

__all__ = ("TransactionContext", "TransactionStack")
