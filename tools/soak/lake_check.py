"""What the soak reads in the data directory: whether the pipeline has drained the event log,
the lake's per-minute totals of the soak's content (each committed run once), and the
directory's size, lake files and quarantined events by reason."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from pathlib import Path

import duckdb

from marquee.eventlog.segments import OPEN_SUFFIX, sealed_segments
from marquee.lake import MINUTE_AGGREGATES
from marquee.lake_runs import read_pipeline_status, visible_files
from marquee.layout import DataLayout
from pipelines.ledger import Ledger
from tools.soak.client import CONTENT_IDS, MinuteKey


def drained(layout: DataLayout) -> bool:
    """No open log segment (the API seals one 2 s after its last write, or on restart) and
    every sealed segment consumed by a committed pipeline run."""
    if any(layout.log_dir.glob(f"*{OPEN_SUFFIX}")):
        return False
    names = [segment.name for segment in sealed_segments(layout.log_dir)]
    if not names:
        return True
    if not layout.state_db.exists():
        return False
    try:
        consumed = Ledger(layout.state_db).consumed_segments(names)
    except duckdb.Error:  # the pipeline holds the file for a run: ask again later
        return False
    return consumed == set(names)


def wait_drained(layout: DataLayout, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if drained(layout):
            return True
        time.sleep(1.0)
    return False


def lake_minute_totals(layout: DataLayout) -> dict[MinuteKey, tuple[int, int]]:
    """(attempts, played ms) per content and minute of the soak's content in the lake's
    `minute_aggregates`: the committed runs' files, each run's rows once (`visible_files`)."""
    up_to = read_pipeline_status(layout).last_run_id
    if up_to is None:
        return {}
    files = visible_files(layout.lake_table_dir(MINUTE_AGGREGATES), up_to)
    if not files:
        return {}
    rows = duckdb.execute(
        "select content_id, epoch_minute, sum(attempts), sum(played_ms) "
        "from read_parquet(?) where content_id in (select unnest(?)) group by all",
        [files, list(CONTENT_IDS)],
    ).fetchall()
    return {(content, int(minute)): (int(a), int(p)) for content, minute, a, p in rows}


def exactly_once_problems(
    expected: dict[MinuteKey, tuple[int, int]], lake: dict[MinuteKey, tuple[int, int]]
) -> list[str]:
    """Every content and minute whose lake totals differ from the acknowledged ones."""
    problems = []
    for key in sorted(expected.keys() | lake.keys()):
        want, got = expected.get(key, (0, 0)), lake.get(key, (0, 0))
        if want != got:
            problems.append(
                f"{key[0]} minute {key[1]}: acknowledged (attempts, played_ms) {want}, lake {got}"
            )
    return problems


def directory_mb(path: Path) -> float:
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total / 1e6


def lake_file_counts(layout: DataLayout) -> dict[str, int]:
    """Parquet files per lake table directory (run, compacted and shadowed files alike)."""
    if not layout.lake_dir.exists():
        return {}
    return {
        table.name: sum(1 for _ in table.glob("*.parquet"))
        for table in sorted(layout.lake_dir.iterdir())
        if table.is_dir()
    }


def rejected_by_reason(layout: DataLayout) -> Counter[str]:
    """Quarantined events and bodies by reason, over every quarantine segment (a retried
    batch's refused events are quarantined at each attempt)."""
    reasons: Counter[str] = Counter()
    for segment in layout.quarantine_dir.glob("*"):
        try:
            lines = segment.read_bytes().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            try:
                reasons[str(json.loads(line)["reason"])] += 1
            except (ValueError, KeyError, TypeError):
                reasons["(unreadable record)"] += 1
    return reasons
