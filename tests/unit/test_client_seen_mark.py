"""A captured exception still pickles and copies (Celery sends a failed task's exception to the
parent process; multiprocessing pickles results): the client's "already captured" mark on it
carries a traceback, which must not travel."""

from __future__ import annotations

import copy
import pickle
import sys

from pipeline import HOOKS_OFF

from raven import Client


def _raise() -> tuple:
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


def test_a_captured_exception_pickles_and_its_copy_counts_as_not_seen() -> None:
    client = Client(**HOOKS_OFF)
    exc_info = _raise()
    client.record_exception_seen(exc_info)
    assert client.skip_error_for_logging(exc_info)

    for copied in (pickle.loads(pickle.dumps(exc_info[1])), copy.deepcopy(exc_info[1])):
        assert type(copied) is ValueError and copied.args == ("boom",)
        assert not client.skip_error_for_logging((ValueError, copied, exc_info[2]))


def test_the_mark_is_per_raise_and_per_client() -> None:
    first, second = Client(**HOOKS_OFF), Client(**HOOKS_OFF)
    exc_info = _raise()
    first.record_exception_seen(exc_info)
    assert not second.skip_error_for_logging(exc_info)
    again = _raise()
    assert not first.skip_error_for_logging(again)
