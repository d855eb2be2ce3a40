"""Compaction of the lake: many small run files become one file per hour, then per day.

Local mode lands one file per table and run (about 1,500 an hour at the demo's rate), and
every dbt build lists and opens each of them. Compaction copies the rows of consecutive
committed runs, unchanged (their `run_id` stays, so dbt's merged-run sets, the ledger and
replay still name runs), into `compact-<first>-<last>.parquet` (`marquee.lake_runs`).

Crash safety rests on one rule every reader applies to one listing of a table directory:
a file whose runs a wider file also holds is shadowed (`marquee.lake_runs.split_visible`;
dbt keeps, per run, the rows of the widest file: macros/lake_files.sql). A step writes the
new file under a temporary name, fsyncs it and renames it into place: before the rename
the old files count, after it the new one does, never both and never neither. The old
files are deleted only `grace_s` after the first file holding their runs appeared (a
reader that listed them a moment before can still open them), by a later step; a kill at
any point leaves at worst shadowed files and a temporary file, which the next step
deletes.

What is compacted: runs started at least `min_age_s` ago (the Live now page and the alert
evaluator read the newest run files by name). Per table, the files of one UTC hour (by
their runs' start in the ledger) become one file once the hour is over, or earlier when
`min_files` run files of it have gathered (the hour's file so far is rewritten with them:
its range grows and still nests); the files of a day become one once the day is over.
A step compacts at most one group per table, so it holds the pipeline's ledger (the lock
that keeps runs, compaction and any other lake rewriter apart) for a bounded time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from marquee.durable import fsync_path, replace_durably
from marquee.lake import LAKE_TABLES
from marquee.lake_runs import (
    COMPACT_PREFIX,
    LakeFile,
    compact_file_name,
    lake_files_of,
    split_visible,
)
from marquee.layout import DataLayout
from pipelines.ledger import Ledger

log = logging.getLogger("pipelines.compaction")

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
ROW_GROUP_ROWS = 128 * 1024
"""Rows gathered before a row group is written: run files hold a few hundred rows each."""


@dataclass(frozen=True)
class CompactionPolicy:
    min_age_s: float = 3600.0
    min_files: int = 100
    grace_s: float = 600.0


@dataclass
class StepReport:
    """What one step did, per table: files written and files deleted."""

    written: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    deleted: int = 0

    @property
    def files_written(self) -> int:
        return sum(len(names) for names in self.written.values())


@dataclass(frozen=True)
class _Group:
    files: list[LakeFile]
    first: int
    last: int

    @classmethod
    def of(cls, files: list[LakeFile]) -> _Group:
        return cls(files, min(f.first for f in files), max(f.last for f in files))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A run file's rows in the table's current schema: columns added since it was written
    are null (they are nullable: `marquee.lake.ADDED_COLUMNS`)."""
    columns = [
        table[name] if name in table.column_names else pa.nulls(table.num_rows, field_.type)
        for name, field_ in zip(schema.names, schema, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def write_compacted(files: Iterable[str], schema: pa.Schema, target: Path) -> int:
    """Copy every row of `files` into `target` (temp name, fsync, rename); rows copied."""
    tmp = target.with_name(f".{target.name}.tmp")
    rows = 0
    pending: list[pa.Table] = []
    pending_rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
                pending.append(conform(pa.Table.from_batches([batch]), schema))
                pending_rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending))
                    rows += pending_rows
                    pending, pending_rows = [], 0
        if pending or rows == 0:
            writer.write_table(pa.concat_tables(pending) if pending else schema.empty_table())
            rows += pending_rows
    fsync_path(tmp)
    replace_durably(tmp, target)
    return rows


def _next_group(
    visible: list[LakeFile],
    started_ms: dict[int, int],
    eligible_up_to: int,
    cutoff_ms: int,
    policy: CompactionPolicy,
) -> _Group | None:
    """The oldest group of visible files of one table to compact: hours first, then days
    (a day only once none of its hours is left to compact); None when there is none."""
    candidates = [file for file in visible if file.last <= eligible_up_to]
    for unit_ms in (HOUR_MS, DAY_MS):
        by_unit: dict[int, list[LakeFile]] = defaultdict(list)
        for file in candidates:
            unit = started_ms[file.first] // unit_ms
            if started_ms[file.last] // unit_ms == unit:
                by_unit[unit].append(file)
        for unit, files in sorted(by_unit.items()):
            complete = (unit + 1) * unit_ms <= cutoff_ms
            run_files = sum(1 for file in files if not file.compacted)
            early = unit_ms == HOUR_MS and run_files >= policy.min_files
            if len(files) < 2 or not (complete or early):
                continue
            group = _Group.of(files)
            # Ranges must nest: no other visible file may hold a run inside the new range
            # (only possible after the clock went backwards between runs).
            inside = {file.path for file in files}
            if any(
                other.path not in inside and other.first <= group.last and group.first <= other.last
                for other in visible
            ):
                log.warning(
                    "runs %d..%d interleave with another file; left as they are",
                    group.first, group.last,
                )  # fmt: skip
                continue
            return group
    return None


class Compactor:
    """Compacts the lake of one data directory; see the module docstring."""

    def __init__(
        self,
        layout: DataLayout,
        ledger: Ledger,
        policy: CompactionPolicy,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.layout = layout
        self.ledger = ledger
        self.policy = policy
        self.now_ms = now_ms

    def step(self) -> StepReport:
        """Delete what earlier steps left behind, then compact one group per table."""
        report = StepReport()
        now = self.now_ms()
        cutoff_ms = now - int(self.policy.min_age_s * 1000)
        with self.ledger.held():
            eligible_up_to = self.ledger.newest_committed_started_before(cutoff_ms)
            for table, schema in LAKE_TABLES.items():
                directory = self.layout.lake_table_dir(table)
                report.deleted += self._clean(directory, now)
                if eligible_up_to is None:
                    continue
                visible, _ = split_visible(lake_files_of(directory))
                runs = {run for file in visible for run in (file.first, file.last)}
                started = self.ledger.started_at_ms([run for run in runs if run <= eligible_up_to])
                group = _next_group(
                    [file for file in visible if file.last in started and file.first in started],
                    started,
                    eligible_up_to,
                    cutoff_ms,
                    self.policy,
                )
                if group is not None:
                    name = compact_file_name(group.first, group.last)
                    files = sorted(group.files, key=lambda file: (file.first, file.path))
                    rows = write_compacted([file.path for file in files], schema, directory / name)
                    report.written[table].append(name)
                    log.info(
                        "compacted %s runs %d..%d: %d files, %d rows -> %s",
                        table, group.first, group.last, len(files), rows, name,
                    )  # fmt: skip
        return report

    def _clean(self, directory: Path, now_ms: int) -> int:
        """Delete shadowed files whose wider file is older than the grace, and temporary
        files of an interrupted step (no step runs meanwhile: the ledger is held)."""
        deleted = 0
        try:
            with os.scandir(directory) as entries:
                leftovers = [e.path for e in entries if e.name.startswith(f".{COMPACT_PREFIX}")]
        except FileNotFoundError:
            return 0
        for path in leftovers:
            Path(path).unlink(missing_ok=True)
            deleted += 1
        files = lake_files_of(directory)
        appeared_ms: list[tuple[LakeFile, float]] = []
        for file in files:
            if file.compacted:
                with contextlib.suppress(FileNotFoundError):
                    appeared_ms.append((file, os.stat(file.path).st_mtime * 1000))
        if not appeared_ms:
            return deleted
        grace_ms = self.policy.grace_s * 1000
        for old in files:
            held_since = _held_since(old, appeared_ms)
            if held_since is not None and now_ms - held_since >= grace_ms:
                Path(old.path).unlink(missing_ok=True)
                deleted += 1
        if deleted:
            fsync_path(directory)
        return deleted


def _held_since(old: LakeFile, compacted: list[tuple[LakeFile, float]]) -> float | None:
    """When the first compacted file still present that also holds `old`'s runs, wider,
    appeared (`compacted`: each compacted file with its mtime, a handful per table).

    A reader that listed the directory after that moment reads the wider copy, so `old` is
    safe to delete a grace after it. Not the widest holder's time: an open hour's compacted
    file is rewritten every few minutes, and its newest version never ages past the grace.
    """
    times = [
        appeared
        for file, appeared in compacted
        if file.first <= old.first and old.last <= file.last and file.span > old.span
    ]
    return min(times, default=None)


def lake_file_counts(layout: DataLayout) -> dict[str, int]:
    """Data files (run and compacted, shadowed ones too) per lake table."""
    return {table: len(lake_files_of(layout.lake_table_dir(table))) for table in LAKE_TABLES}
