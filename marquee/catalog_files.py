"""The catalogue as files: `creators.json` and `content.json`, written atomically.

EVENTS.md lets the catalogue arrive "by a file drop"; whoever picks the files up may read
them at any moment, so each file is written to a temporary name in the same directory,
fsynced, and renamed over the old one (`os.replace` is atomic on POSIX): a reader sees the
old file or the new one, never half of one. One record per line keeps the arrays readable
and diffable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

CREATORS_FILE = "creators.json"
CONTENT_FILE = "content.json"


def write_json_array_atomic(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write `records` as a JSON array (one record per line) to `path`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    body = b"[\n" + b",\n".join(encoder.encode(record) for record in records) + b"\n]\n"
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def write_catalogue(
    directory: Path, creators: Sequence[dict[str, Any]], content: Sequence[dict[str, Any]]
) -> tuple[Path, Path]:
    """Write both catalogue files into `directory`; returns their paths."""
    creators_path = directory / CREATORS_FILE
    content_path = directory / CONTENT_FILE
    write_json_array_atomic(creators_path, creators)
    write_json_array_atomic(content_path, content)
    return creators_path, content_path
