"""The durable spool's directory: atomic writes, claims between processes, scans. (I/O only; the
rules are in ``raven._delivery.spool``.)

Layout of a spool directory::

    <dir>/<captured>_<dsn>_<owner>_<event id>_<size>.envelope   one event each
    <dir>/.owners/<owner>.lock    flock()ed by the living process that writes as <owner>
    <dir>/corrupt/                files that are not ours or not whole, moved aside

A file is written in place (``O_EXCL``): no other process reads the files of a living owner, its
own replay reads a file only once it is written, and a file cut short by a crash of its writer is
found not whole (its name says its size) and moved aside.

Claims: a process holds an exclusive ``flock`` on its ``.owners`` file for as long as it lives
(the kernel drops it when the process dies, ``kill -9`` included). While it holds it, no other
process touches its files. The files of an owner that is gone are taken one at a time: the taker
opens the file, ``flock``\\ s it (non-blocking; a file another process is sending is skipped),
checks that it is still linked (a file sent and unlinked by another process is skipped), and keeps
the lock until the event is settled: sent (the file is unlinked under the lock) or kept (the lock
is released). So each file is sent by one process at a time, and a file is sent again only if its
sender died before it could unlink it.
"""

from __future__ import annotations

import errno
import heapq
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Optional

from raven._delivery.spool import SUFFIX, SpoolName, parse_name

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system
    fcntl = None  # type: ignore[assignment]

OWNERS = ".owners"
CORRUPT = "corrupt"


@dataclass
class Scan:
    """What one pass over the directory found."""

    files: int = 0
    size: int = 0
    #: The oldest files this process may send (its own, not in memory, and those of owners
    #: that are gone), at most ``keep`` of them, oldest first.
    oldest: list[SpoolName] = field(default_factory=list)
    #: How many such files there are, and whether that is more than ``oldest`` holds.
    sendable: int = 0
    more: bool = False
    #: Files that are not the spool's (moved aside).
    foreign: list[str] = field(default_factory=list)


class SpoolDir:
    """One process's handle on a spool directory."""

    def __init__(self, path: str, fsync: bool = False) -> None:
        self.path = os.path.abspath(path)
        self.fsync = fsync
        self.owner = ""
        self._owner_fd: Optional[int] = None

    # -- this process's ownership

    def open(self) -> str:
        """Create the directory if needed and become an owner in it; the owner token.

        Raises ``OSError`` when the directory cannot be used (missing and not creatable,
        read-only, no flock).
        """
        if fcntl is None:
            raise OSError(errno.ENOSYS, "the spool needs flock(), which this platform lacks")
        os.makedirs(os.path.join(self.path, OWNERS), exist_ok=True)
        self._become_owner()
        return self.owner

    def _become_owner(self) -> None:
        owner = secrets.token_hex(6)
        lock = os.path.join(self.path, OWNERS, f"{owner}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            os.close(fd)
            _unlink(lock)
            raise
        self.owner, self._owner_fd = owner, fd

    def after_fork(self) -> None:
        """In a forked child: let go of the parent's ownership (without releasing its lock, which
        the parent still holds) and become an owner of its own."""
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # closing a copy does not unlock the parent's flock
            self._owner_fd = None
        self._become_owner()

    def close(self) -> None:
        """Stop being an owner: this process's files are anyone's from now on."""
        fd, self._owner_fd = self._owner_fd, None
        if fd is not None:
            _unlink(os.path.join(self.path, OWNERS, f"{self.owner}.lock"))
            os.close(fd)

    def owner_alive(self, owner: str) -> bool:
        """True while the process that writes as ``owner`` lives (it holds its lock)."""
        if owner == self.owner:
            return True
        lock = os.path.join(self.path, OWNERS, f"{owner}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot tell: leave its files alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held (BlockingIOError), or cannot tell
            return True
        else:
            _unlink(lock)  # gone for good: the next look needs no lock
            return False
        finally:
            os.close(fd)

    # -- files

    def write(self, name: SpoolName, data: bytes) -> None:
        """Write ``data`` as ``name`` (removed again if the write fails)."""
        path = os.path.join(self.path, name.name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink(path)
            raise
        os.close(fd)
        if self.fsync:
            _fsync_dir(self.path)

    def claim(self, name: SpoolName) -> Optional[tuple[Optional[int], bytes]]:
        """``(lock fd or None, contents)`` of a file this process may send now, else None (gone,
        or another process is sending it). This process's own files need no lock."""
        path = os.path.join(self.path, name.name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            if name.owner != self.owner:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_nlink == 0:  # sent and unlinked meanwhile
                    os.close(fd)
                    return None
            data = _read_all(fd)
        except OSError:
            os.close(fd)
            return None
        if name.owner == self.owner:
            os.close(fd)
            return None, data
        return fd, data

    def remove(self, name: SpoolName, fd: Optional[int] = None) -> bool:
        """Unlink the file (under its lock ``fd``, then released); False if it was gone."""
        try:
            os.unlink(os.path.join(self.path, name.name))
            return True
        except OSError:
            return False
        finally:
            release(fd)

    def take_and_remove(self, name: SpoolName) -> bool:
        """Remove a file this process may delete (bounds, age); False if another has it."""
        if name.owner == self.owner:
            return self.remove(name)
        claimed = self.claim(name)
        if claimed is None:
            return False
        return self.remove(name, claimed[0])

    def move_aside(self, filename: str, fd: Optional[int] = None) -> None:
        """Move a file that is not a whole spool file into ``corrupt/`` (kept for a human)."""
        try:
            os.makedirs(os.path.join(self.path, CORRUPT), exist_ok=True)
            os.replace(os.path.join(self.path, filename), os.path.join(self.path, CORRUPT, filename))
        except OSError:
            pass
        finally:
            release(fd)

    def scan(self, tag: str, busy: set[str], keep: int) -> Scan:
        """One pass: totals of every spool file, and the oldest ``keep`` this process may send
        (DSN ``tag``, not in ``busy``, this process's own or those of owners that are gone)."""
        result = Scan()
        held: dict[str, bool] = {}  # owner -> another living process holds its files

        def sendable() -> Iterator[SpoolName]:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    parsed = parse_name(entry.name)
                    if parsed is None:
                        result.foreign.append(entry.name)
                        continue
                    result.files += 1
                    result.size += parsed.size
                    if parsed.dsn_tag != tag or entry.name in busy:
                        continue
                    owner = parsed.owner
                    if owner not in held:
                        held[owner] = owner != self.owner and self.owner_alive(owner)
                    if not held[owner]:
                        result.sendable += 1
                        yield parsed

        result.oldest = heapq.nsmallest(keep, sendable())
        result.more = result.sendable > len(result.oldest)
        return result


def list_files(path: str) -> Iterator[tuple[SpoolName, str]]:
    """Every spool file of a directory, with its path (for ``raven spool``)."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
                parsed = parse_name(entry.name)
                if parsed is not None:
                    yield parsed, entry.path


def release(fd: Optional[int]) -> None:
    """Close a claim's lock fd (releasing its flock)."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
