"""``raven spool DIR``: what waits in a durable spool directory; send it now, or delete it.

* ``raven spool DIR``: how many spool files and bytes, how old the oldest is (by the capture time
  in its name, as the spool itself reckons), the files per DSN tag, how many belong to running
  processes, and how many were moved to ``corrupt/``. ``--dsn DSN`` marks that DSN's tag.
* ``raven spool DIR --replay --dsn DSN [--timeout S]``: a client with that DSN and
  ``spool_dir=DIR`` (threaded transport) sends the files of that DSN now; the command waits until
  none is left or ``S`` seconds pass, prints how many were sent, are left and were lost, and exits
  0 if none is left, 1 otherwise. Files a running process owns are its own to send: they are left.
* ``raven spool DIR --purge [--dsn DSN]``: deletes the spool files (of that DSN only, with
  ``--dsn``), except those a running process owns or is sending; exits 1 if some could not be
  deleted for another reason (permissions).

The library says nothing on its own here: its log lines are collected and the command prints
them as the reason when something is left or lost. Bad input (no such directory, an invalid DSN,
``--replay`` without ``--dsn``) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from raven._log_collector import collecting

__all__ = ("add_parser", "run")

#: Seconds ``--replay`` waits by default.
DEFAULT_TIMEOUT = 60.0
#: Seconds between two looks at the directory while replaying.
_POLL = 0.05
#: Library log lines printed at most, as the reason for what is left or lost.
_MAX_REASONS = 5
#: Exit status for bad input (as argparse's).
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``spool`` subcommand to ``raven``'s subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "spool",
        help="show, send or delete the events waiting in a spool directory",
        description="Show the events waiting in a durable spool directory (files, bytes, the oldest "
        "file's age, files per DSN tag). --replay sends those of --dsn now; --purge deletes them.",
    )
    parser.add_argument("dir", metavar="DIR", help="the spool directory (the client's spool_dir)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--replay",
        action="store_true",
        help="send the files of --dsn now; wait until none is left or --timeout passes "
        "(exit 0 if none is left, 1 otherwise)",
    )
    action.add_argument(
        "--purge",
        action="store_true",
        help="delete the spool files (only those of --dsn, if given), except those a running process owns",
    )
    parser.add_argument("--dsn", help="the DSN whose files to replay (or to single out)")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --replay waits (default {DEFAULT_TIMEOUT:g})",
    )
    return parser


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds, a number > 0: {value!r}")
    return seconds


def run(args: argparse.Namespace, out: Optional[IO[str]] = None, err: Optional[IO[str]] = None) -> int:
    """Run ``raven spool`` with parsed ``args`` (output to ``out``, errors to ``err``: stdout and
    stderr by default); the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        path = _spool_dir(args.dir)
        dsn = _dsn(args.dsn) if args.dsn is not None else None
        if args.replay:
            if dsn is None:
                raise UsageError("--replay needs --dsn DSN (the DSN the files are sent to)")
            return replay(path, dsn, args.timeout, out)
        if args.purge:
            return purge(path, dsn, out)
        return show(path, dsn, out)
    except UsageError as exc:
        err.write(f"raven spool: error: {exc}\n")
        return USAGE_ERROR


# -- input


def _spool_dir(path: str) -> str:
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(full):
        raise UsageError(f"no spool directory at {full}")
    if not os.path.isdir(full):
        raise UsageError(f"{full} is not a directory")
    return full


@dataclass(frozen=True)
class _Dsn:
    value: str  # as given, without a spool_dir option
    tag: str
    shown: str  # without the secret and the options


def _dsn(value: str) -> _Dsn:
    from raven._delivery.dsn import Dsn
    from raven._delivery.spool import dsn_tag
    from raven.exceptions import InvalidDsn

    text = value.strip()
    try:
        parsed = Dsn.parse(text)
    except InvalidDsn as exc:
        raise UsageError(str(exc)) from None
    public = parsed.without_secret()
    return _Dsn(_without_spool_dir(text), dsn_tag(public), public)


def _without_spool_dir(dsn: str) -> str:
    """The DSN without its own ``spool_dir`` option (the command's directory is the one used)."""
    parts = urlsplit(dsn)
    if not parts.query:
        return dsn
    query = [(key, val) for key, val in parse_qsl(parts.query, keep_blank_values=True) if key != "spool_dir"]
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- the directory


@dataclass
class _Tag:
    files: int = 0
    size: int = 0
    oldest_ns: Optional[int] = None


@dataclass
class _Listing:
    files: int = 0
    size: int = 0
    oldest_ns: Optional[int] = None
    tags: dict[str, _Tag] = field(default_factory=dict)
    held: int = 0  # files of owners that are running
    corrupt: int = 0


def _list(path: str, tag: Optional[str] = None) -> list[Any]:
    """The spool files (``SpoolName``) of the directory, of DSN ``tag`` only if given."""
    from raven._runtime.spool_files import list_files

    try:
        return [name for name, _ in list_files(path) if tag is None or name.dsn_tag == tag]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


class _Owners:
    """Whether the processes that wrote files are running: they hold their owner lock (the spool's
    own test, ``SpoolDir.owner_alive``), cached per owner."""

    def __init__(self, path: str) -> None:
        from raven._runtime.spool_files import SpoolDir

        self.dir = SpoolDir(path)
        self._alive: dict[str, bool] = {}

    def alive(self, owner: str) -> bool:
        if owner not in self._alive:
            self._alive[owner] = self.dir.owner_alive(owner)
        return self._alive[owner]


def _listing(path: str) -> _Listing:
    from raven._runtime.spool_files import CORRUPT

    listing = _Listing()
    owners = _Owners(path)
    for name in _list(path):
        listing.files += 1
        listing.size += name.size
        tag = listing.tags.setdefault(name.dsn_tag, _Tag())
        tag.files += 1
        tag.size += name.size
        for entry in (listing, tag):
            if entry.oldest_ns is None or name.captured_ns < entry.oldest_ns:
                entry.oldest_ns = name.captured_ns
        listing.held += owners.alive(name.owner)
    try:
        with os.scandir(os.path.join(path, CORRUPT)) as entries:
            listing.corrupt = sum(1 for entry in entries if entry.is_file(follow_symlinks=False))
    except OSError:
        pass
    return listing


def _age(captured_ns: int, now: float) -> str:
    seconds = now - captured_ns / 1e9
    if seconds < 0:
        return f"{_duration(-seconds)} in the future (a clock went back)"
    return f"{_duration(seconds)} ago"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _utc(captured_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(captured_ns / 1e9))


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


# -- raven spool DIR


def show(path: str, dsn: Optional[_Dsn], out: IO[str]) -> int:
    listing = _listing(path)
    now = time.time()
    out.write(f"spool directory: {path}\n")
    out.write(f"files: {listing.files}\n")
    out.write(f"bytes: {listing.size}\n")
    if listing.oldest_ns is None:
        out.write("oldest: -\n")
    else:
        out.write(f"oldest: {_age(listing.oldest_ns, now)} (captured {_utc(listing.oldest_ns)})\n")
    if listing.tags:
        out.write("per DSN tag:\n")
        for tag, entry in sorted(listing.tags.items()):
            assert entry.oldest_ns is not None
            mark = f"  <- {dsn.shown}" if dsn is not None and dsn.tag == tag else ""
            out.write(
                f"  {tag}  {_files(entry.files)}  {entry.size} bytes  "
                f"oldest {_age(entry.oldest_ns, now)}{mark}\n"
            )
    if dsn is not None and dsn.tag not in listing.tags:
        out.write(f"no files of {dsn.shown} (DSN tag {dsn.tag})\n")
    if listing.held:
        out.write(f"owned by running processes: {_files(listing.held)} (they send them themselves)\n")
    if listing.corrupt:
        out.write(f"corrupt/: {_files(listing.corrupt)} moved aside (not whole spool files)\n")
    return 0


# -- raven spool DIR --purge


def purge(path: str, dsn: Optional[_Dsn], out: IO[str]) -> int:
    owners = _Owners(path)
    deleted = size = held = failed = 0
    for name in _list(path, dsn.tag if dsn is not None else None):
        if owners.alive(name.owner):
            held += 1
        elif owners.dir.take_and_remove(name):
            deleted += 1
            size += name.size
        elif os.path.exists(os.path.join(path, name.name)):
            failed += 1  # another process is sending it, or no permission
    of = f" of {dsn.shown}" if dsn is not None else ""
    out.write(f"deleted: {_files(deleted)}{of} ({size} bytes)\n")
    if held:
        out.write(f"kept: {_files(held)} owned by running processes\n")
    if failed:
        out.write(f"not deleted: {_files(failed)} (being sent by another process, or no permission)\n")
        return 1
    return 0


# -- raven spool DIR --replay --dsn DSN


def replay(path: str, dsn: _Dsn, timeout: float, out: IO[str]) -> int:
    from raven.base import Client
    from raven.cli import _lost_summary, _quiet_client_options  # raven.cli imports this module
    from raven.exceptions import ConfigurationError
    from raven.transport.threaded import ThreadedHTTPTransport

    deadline = time.monotonic() + timeout
    waiting = len(_list(path, dsn.tag))
    with collecting(own=True) as collector:
        try:
            client = Client(
                dsn.value,
                transport=ThreadedHTTPTransport,
                spool_dir=path,
                **_quiet_client_options(),
            )
        except (ConfigurationError, ImportError) as exc:
            raise UsageError(str(exc)) from None
        try:
            if not client.is_enabled():
                raise UsageError(f"the client is disabled with DSN {dsn.shown}")
            out.write(f"replaying {_files(waiting)} from {path} to {dsn.shown} (DSN tag {dsn.tag})\n")
            out.flush()
            while _list(path, dsn.tag) and time.monotonic() < deadline:
                time.sleep(_POLL)
        finally:
            client.close(timeout=max(0.5, min(2.0, deadline - time.monotonic())))
        stats = client.delivery_stats()
    left = len(_list(path, dsn.tag))
    lost: dict[str, int] = dict(stats.get("lost") or {})
    out.write(f"sent: {int(stats.get('sent', 0) or 0)}, left: {left}, lost: {sum(lost.values())}\n")
    if lost:
        out.write(f"lost by reason: {_lost_summary(stats)}\n")
    if left or lost:
        for message in collector.messages[:_MAX_REASONS]:
            out.write(f"  {message}\n")
    if left:
        owners = _Owners(path)
        held = sum(1 for name in _list(path, dsn.tag) if owners.alive(name.owner))
        if held:
            out.write(f"  {_files(held)} of these are owned by running processes (they send them)\n")
    return 1 if left else 0
