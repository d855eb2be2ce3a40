"""Which lake files are committed: the pipeline's status file and the run files per table.

The pipeline lands one file per run and table (`lake/<table>/run-<run id>.parquet`,
`marquee.lake`) and then commits the run; `state/pipeline_status.json` names the last
committed run and when it was committed. A reader that must never count a run twice (a
redo after a crash rewrites the same files) reads only the runs numbered up to
`last_run_id`. Run numbers are the files' names, so choosing files opens none of them.

Readers: the dashboards' Live now page (`dashboards.lake`) and the alert evaluator
(`alerts.reader`), both of which read the minute-level data before it is published.

Committed runs older than an hour are compacted (`pipelines.compaction`) into
`compact-<first>-<last>.parquet` files holding every row of those runs; a reader of a whole
table lists its files once and counts each run in the widest file holding it
(`visible_files`), so the old and the new copy never count twice while both exist.
"""

from __future__ import annotations

import bisect
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


COMPACT_PREFIX = "compact-"


def compact_file_name(first_run: int, last_run: int) -> str:
    """`compact-<first>-<last>.parquet`: every row of runs first..last of one table, as the
    run files held them (`pipelines.compaction`)."""
    return f"{COMPACT_PREFIX}{first_run:012d}-{last_run:012d}{RUN_SUFFIX}"


@dataclass(frozen=True)
class LakeFile:
    """A lake data file and the runs it holds: a run file holds one run (dead letters may
    have several files per run); a compacted file holds runs `first`..`last`."""

    path: str
    first: int
    last: int
    compacted: bool

    @property
    def span(self) -> int:
        """0 for a run file; the number of runs for a compacted file. Of two files holding
        the same run, the wider span is the copy that counts."""
        return self.last - self.first + 1 if self.compacted else 0


def lake_file_of(path: str) -> LakeFile | None:
    """The runs a file holds, by its name alone; None for the schema file, temporary files
    and anything else."""
    name = os.path.basename(path)
    if not name.endswith(RUN_SUFFIX):
        return None
    stem = name[: -len(RUN_SUFFIX)]
    if stem.startswith(COMPACT_PREFIX):
        first, sep, last = stem[len(COMPACT_PREFIX) :].partition("-")
        if sep and first.isdigit() and last.isdigit() and int(first) <= int(last):
            return LakeFile(path, int(first), int(last), compacted=True)
        return None
    if stem.startswith(RUN_PREFIX):
        digits = stem[len(RUN_PREFIX) :].split("-", 1)[0]
        if digits.isdigit():
            return LakeFile(path, int(digits), int(digits), compacted=False)
    return None


def lake_files_of(directory: Path) -> list[LakeFile]:
    """Every data file of a table directory (run and compacted files, visible or not), from
    one listing, ordered by first run and span."""
    try:
        with os.scandir(directory) as entries:
            files = [found for entry in entries if (found := lake_file_of(entry.path))]
    except FileNotFoundError:
        return []
    return sorted(files, key=lambda file: (file.first, file.span, file.path))


def split_visible(files: list[LakeFile]) -> tuple[list[LakeFile], list[LakeFile]]:
    """(visible, shadowed): a file is shadowed when a file of wider span holds all its runs.

    Compaction writes the wider file before it deletes the narrower ones, so from any one
    listing each run's rows count exactly once: in the widest file holding them. Ranges of
    compacted files nest or are disjoint, so the widest holder of a run is unique: the
    outermost compacted file around it (found by bisection, thousands of files a step).
    """
    outermost = outermost_compacted(files)
    firsts = [file.first for file in outermost]
    visible: list[LakeFile] = []
    shadowed: list[LakeFile] = []
    for file in files:
        holder = widest_holder(file, outermost, firsts)
        (visible if holder is None else shadowed).append(file)
    return visible, shadowed


def outermost_compacted(files: list[LakeFile]) -> list[LakeFile]:
    """The compacted files no other compacted file holds, ordered by first run (disjoint)."""
    outermost: list[LakeFile] = []
    for file in sorted((f for f in files if f.compacted), key=lambda f: (f.first, -f.last)):
        if not outermost or file.first > outermost[-1].last:
            outermost.append(file)
    return outermost


def widest_holder(file: LakeFile, outermost: list[LakeFile], firsts: list[int]) -> LakeFile | None:
    """The outermost compacted file holding `file`'s runs when it is wider than `file`."""
    index = bisect.bisect_right(firsts, file.first) - 1
    if index < 0:
        return None
    holder = outermost[index]
    if file.last <= holder.last and holder.span > file.span:
        return holder
    return None


def visible_files(directory: Path, up_to_run: int | None = None) -> list[str]:
    """The files a reader of a whole table reads: each run's rows once (`split_visible`),
    only runs up to `up_to_run` (the last committed) when given. Compacted files hold only
    committed runs, so a cut never splits one."""
    visible, _ = split_visible(lake_files_of(directory))
    return [file.path for file in visible if up_to_run is None or file.last <= up_to_run]
