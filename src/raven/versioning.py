"""raven 6.10 import path for the release helpers."""

from raven.exceptions import InvalidGitRepository
from raven.utils.versioning import fetch_git_sha, fetch_package_version

__all__ = ["InvalidGitRepository", "fetch_git_sha", "fetch_package_version"]
