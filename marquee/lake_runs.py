"""Which lake files are committed: the pipeline's status file and the run files per table.

The pipeline lands one file per run and table (`lake/<table>/run-<run id>.parquet`,
`marquee.lake`) and then commits the run; `state/pipeline_status.json` names the last
committed run and when it was committed. A reader that must never count a run twice (a
redo after a crash rewrites the same files) reads only the runs numbered up to
`last_run_id`. Run numbers are the files' names, so choosing files opens none of them.

Readers: the dashboards' Live now page (`dashboards.lake`) and the alert evaluator
(`alerts.reader`), both of which read the minute-level data before it is published.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from marquee.layout import DataLayout

SCHEMA_FILE = "_schema.parquet"
RUN_PREFIX = "run-"
RUN_SUFFIX = ".parquet"


@dataclass(frozen=True)
class PipelineStatus:
    """The pipeline's last commit (`state/pipeline_status.json`), None before its first."""

    last_run_id: int | None
    last_commit_at_ms: int | None


def read_pipeline_status(layout: DataLayout) -> PipelineStatus:
    """The last committed run and its time; both None when the pipeline has not committed
    yet or its status file cannot be read (it is replaced by a rename, never half-written)."""
    try:
        status = json.loads(layout.pipeline_status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return PipelineStatus(None, None)
    if not isinstance(status, dict):
        return PipelineStatus(None, None)
    run_id = status.get("last_run_id")
    committed = status.get("last_commit_at_ms")
    return PipelineStatus(
        int(run_id) if isinstance(run_id, int) else None,
        int(committed) if isinstance(committed, int) else None,
    )


def run_id_of(name: str) -> int | None:
    """The run of `run-000000000042.parquet` (42); None for other files (the schema file,
    a temporary `.run-....tmp`, dead letters' `run-<id>-<segment>.parquet`)."""
    if not (name.startswith(RUN_PREFIX) and name.endswith(RUN_SUFFIX)):
        return None
    digits = name[len(RUN_PREFIX) : -len(RUN_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def runs_of(directory: Path) -> dict[int, str]:
    """Run id -> path of every run file in a table directory (committed or not); empty when
    the directory does not exist yet."""
    try:
        with os.scandir(directory) as entries:
            return {
                run_id: entry.path
                for entry in entries
                if (run_id := run_id_of(entry.name)) is not None
            }
    except FileNotFoundError:
        return {}
