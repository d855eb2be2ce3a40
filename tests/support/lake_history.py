"""A lake of many committed runs spread over hours and days, and fingerprints of its tables.

The golden events go through the real intake and local mode, one small segment per run;
then the ledger's start times of the runs are moved into the past (as if the runs had
been started over the last days), which is what compaction groups files by. A table's
fingerprint is its row count and an order-free sum of its rows' hashes over the files a
reader counts (`marquee.lake_runs.visible_files`): equal fingerprints, equal rows.
"""

from __future__ import annotations

import itertools
import time

import duckdb
import msgspec

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import LAKE_TABLES
from marquee.lake_runs import visible_files
from marquee.layout import DataLayout
from pipelines.ledger import connect_with_retry
from pipelines.local_runner import LocalRunner
from tests.support.segments import golden_log_lines, write_segments
from tools.simulator.stream import TrafficStream

HOUR_MS = 3_600_000


def simulated_log_lines(events: int) -> list[bytes]:
    """About `events` simulated events as the API would log them (the real intake)."""
    now_ms = int(time.time() * 1000)
    simulator = TrafficStream(seed=22, creators=20, rate=1_000.0)
    start_ms = now_ms - 3_600_000
    raw = [
        msgspec.json.encode(event)
        for event in simulator.events_between(start_ms, start_ms + int(events * 1.3))
    ]
    enricher = Enricher(Pseudonymiser(b"lake"), future_horizon_s=300, lateness_horizon_s=86400)
    result = ingest_events(raw, None, "app", now_ms, None, enricher)
    return bytes(result.log_bytes).splitlines(keepends=True)


def build_lake(layout: DataLayout, runs: int, hours_apart: float, events: int = 0) -> int:
    """`runs` committed runs of the golden events (and about `events` simulated ones); run i
    started `hours_apart` hours after run i-1, the last one 3 hours ago. Returns the newest
    run id."""
    lines, _ = golden_log_lines()
    lines = lines + (simulated_log_lines(events) if events else [])
    cuts = [len(lines) * i // runs for i in range(runs + 1)]
    write_segments(layout, [lines[a:b] for a, b in itertools.pairwise(cuts)])
    runner = LocalRunner(layout, max_segments_per_run=1)
    count = runner.drain()
    newest_ms = int(time.time() * 1000) - 3 * HOUR_MS
    with connect_with_retry(layout.state_db, read_only=False) as conn:
        conn.execute(
            "update runs set started_at_ms = ? - cast((? - run_id) * ? as bigint)",
            [newest_ms, count, hours_apart * HOUR_MS],
        )
    return count


def fingerprints(layout: DataLayout) -> dict[str, tuple[int, int]]:
    """Per lake table: (rows, sum of row hashes) over the files a reader counts."""
    result: dict[str, tuple[int, int]] = {}
    with duckdb.connect() as conn:
        for table, schema in LAKE_TABLES.items():
            files = visible_files(layout.lake_table_dir(table))
            if not files:
                result[table] = (0, 0)
                continue
            columns = ", ".join(schema.names)
            row = conn.execute(
                f"select count(*), coalesce(sum(hash({columns})::hugeint), 0)::varchar "
                "from read_parquet(?, union_by_name = true)",
                [files],
            ).fetchone()
            assert row is not None
            result[table] = (int(row[0]), int(row[1]))
    return result
