"""What the API left in a data directory: event log records and quarantine records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX


def log_records(data_dir: Path) -> list[dict[str, Any]]:
    """Every record in the event log, open or sealed segments alike."""
    records = []
    for path in sorted((data_dir / "log").iterdir()):
        if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX):
            records += [json.loads(line) for line in path.read_bytes().splitlines() if line]
    return records


def quarantined(data_dir: Path) -> list[dict[str, Any]]:
    """Every quarantine record, in segment order."""
    text = "".join(path.read_text() for path in sorted((data_dir / "quarantine").iterdir()))
    return [json.loads(line) for line in text.splitlines()]
