"""The installed version and, for a source checkout, the git commit: both go on every run."""
from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("aebench")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the checkout aebench is imported from (``-dirty`` with local changes), else ``unknown``."""
    source = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if changes else "")
