"""Small helpers for files that must survive a crash: fsync a path, rename durably.

A rename is only durable once the directory holding it is fsynced; every writer of
immutable files (log segments, lake Parquet files, the serving snapshot) goes through here.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, target: Path) -> None:
    """Rename tmp over target atomically and make the rename itself durable."""
    os.replace(tmp, target)
    fsync_path(target.parent)
