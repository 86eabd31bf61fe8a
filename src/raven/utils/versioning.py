"""Release helpers of raven 6.10 (``raven.fetch_git_sha``, ``raven.fetch_package_version``)."""

from __future__ import annotations

import os
from typing import Optional

from raven.exceptions import InvalidGitRepository

__all__ = ("fetch_git_sha", "fetch_package_version")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def _git_dir(path: str) -> str:
    """The repository's git directory; a ``.git`` *file* (worktrees, submodules) points elsewhere."""
    dot_git = os.path.join(path, ".git")
    if os.path.isfile(dot_git):
        content = _read(dot_git)
        if content.startswith("gitdir:"):
            target = content[len("gitdir:") :].strip()
            return target if os.path.isabs(target) else os.path.normpath(os.path.join(path, target))
    return dot_git


def fetch_git_sha(path: str, head: Optional[str] = None) -> str:
    """The commit checked out in the git repository at ``path`` (or of branch ``head``).

    >>> release = fetch_git_sha(os.path.dirname(__file__))
    """
    git_dir = _git_dir(path)
    if not head:
        head_path = os.path.join(git_dir, "HEAD")
        if not os.path.exists(head_path):
            raise InvalidGitRepository(f"Cannot identify HEAD for git repository at {path}")
        ref = _read(head_path)
        if not ref.startswith("ref: "):
            return ref
        ref = ref[5:]
    else:
        ref = f"refs/heads/{head}"
    revision_file = os.path.join(git_dir, *ref.split("/"))
    if os.path.exists(revision_file):
        return _read(revision_file)
    if not os.path.exists(git_dir):
        raise InvalidGitRepository(f"{path} does not seem to be the root of a git repository")
    # After `git gc` refs live in packed-refs.
    packed = os.path.join(git_dir, "packed-refs")
    if os.path.exists(packed):
        with open(packed, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip()
                if line and line[:1] not in ("#", "^"):
                    revision, _, name = line.partition(" ")
                    if name == ref:
                        return revision
    raise InvalidGitRepository(f'Unable to find ref to head "{ref}" in repository')


def fetch_package_version(dist_name: str) -> str:
    """The installed version of the distribution ``dist_name``.

    >>> release = fetch_package_version('my-app')
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist_name)
    except PackageNotFoundError:
        if dist_name == "raven":  # this package is installed as raven-ng
            return version("raven-ng")
        raise
