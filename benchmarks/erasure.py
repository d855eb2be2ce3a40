"""Privacy erasure time on 30 days x 1,000 creators, against the I/O floor of the same run.

The data: the dashboard benchmark's history (`python -m tools.history`, 30 days, 1,000
creators at 2 events/s: about 5.7M events, its lake and its dbt build; cached under
`.bench-cache/dashboards-30d-1000c-2eps-s1`, built on first use), copied into a scratch
directory with the build published as serving.duckdb. The history writes no event log, so
a log is added: the lateness horizon's share of the history's events (7 of 30 days) as
sealed segments of 2,000 records, a few dozen of them the erased viewer's.

The viewer erased is the one with the most creator x day rows. The job is backdated past
its in-flight grace, so the figures are the work, not the wait.

Figures: `erasure_s` (the worker's whole run), each step's seconds and rows, and
`floor_s`: reading every byte of the segments, quarantine and lake once and copying the
warehouse twice (what any rewrite of these stores must at least do), with the ratio.
The full-rate history (0.02 events/s per creator, about 57M events) is ten times larger
in every store; docs/privacy.md states the figure extrapolated from this one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import duckdb

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.layout import DataLayout
from marquee.privacy.jobs import ErasureJob, new_job, read_job, save_job
from marquee.privacy.stores import lake_run_files
from marquee.privacy.worker import ErasureWorker

HORIZON_DAYS = 7
HISTORY_DAYS = 30
SEGMENT_RECORDS = 2_000
ERASED_RECORDS = 40


def _history(workers: int) -> Path:
    from benchmarks.dashboards import own_history

    return own_history(workers)


def _copy(source: Path, scratch: Path) -> DataLayout:
    target = scratch / "data"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("gx", "dbt", "history"))
    layout = DataLayout(target)
    shutil.copyfile(layout.dbt_db, layout.serving_db)
    return layout


def _most_active_viewer(layout: DataLayout) -> str:
    glob = str(layout.lake_table_dir("creator_viewer_days") / "*.parquet")
    (viewer,) = duckdb.execute(
        "select viewer_key from read_parquet($g) group by 1 order by count(*) desc limit 1",
        {"g": glob},
    ).fetchone() or ("",)
    return str(viewer)


def _write_log(layout: DataLayout, events: int, erased: str) -> int:
    """Sealed segments of `events` player records, `ERASED_RECORDS` of them the viewer's."""
    enricher = Enricher(Pseudonymiser(b"bench"), 300, 86_400 * 7)
    now = int(time.time() * 1000)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    every = max(1, events // ERASED_RECORDS)
    for segment in range(0, events, SEGMENT_RECORDS):
        raw = [
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "type": "heartbeat",
                    "ts": now - 60_000,
                    "platform": "web",
                    "viewer_id": f"viewer-{(segment + index) % 200_000}",
                    "creator_id": "cr_1",
                    "content_id": "vod_1",
                    "content_type": "vod",
                    "session_id": f"s-{(segment + index) // 20}",
                    "played_ms": 10_000,
                    "stalled_ms": 0,
                    "stall_count": 0,
                    "seek_ms": 0,
                    "bitrate_kbps": 3000,
                    "playhead_ms": 10_000,
                    "state": "playing",
                }
            ).encode()
            for index in range(min(SEGMENT_RECORDS, events - segment))
        ]
        lines = ingest_events(raw, None, "app", now, None, enricher).log_bytes.splitlines(True)
        for index in range(len(lines)):
            if (segment + index) % every == 0:
                head, _, tail = lines[index].partition(b'"viewer_key":"')
                lines[index] = head + b'"viewer_key":"' + erased.encode() + tail[32:]
        name = f"{now - 10_000_000 + segment:013d}-bench000-{segment:09d}.seg"
        (layout.log_dir / name).write_bytes(b"".join(lines))
        written += sum(map(len, lines))
    return written


def _floor_s(layout: DataLayout, scratch: Path) -> float:
    started = time.perf_counter()
    for directory in (layout.log_dir, layout.quarantine_dir):
        for path in directory.glob("*.seg"):
            path.read_bytes()
    for path in lake_run_files(layout.lake_dir):
        path.read_bytes()
    for database in (layout.dbt_db, layout.serving_db):
        shutil.copyfile(database, scratch / "floor.duckdb")
    (scratch / "floor.duckdb").unlink()
    return time.perf_counter() - started


def _size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def run(workers: int = 2) -> dict[str, float]:
    source = _history(workers)
    with tempfile.TemporaryDirectory(prefix="erasure-bench-") as tmp:
        scratch = Path(tmp)
        layout = _copy(source, scratch)
        erased = _most_active_viewer(layout)
        history_events = json.loads((source / "bench-history.json").read_text())[
            "history_events_generated"
        ]
        log_events = int(history_events * HORIZON_DAYS / HISTORY_DAYS)
        log_bytes = _write_log(layout, log_events, erased)
        floor = _floor_s(layout, scratch)
        job: ErasureJob = new_job(layout, [erased])
        job.requested_at_ms -= 60_000
        save_job(layout, job)
        started = time.perf_counter()
        ErasureWorker(layout, lateness_horizon_s=7 * 86_400).run_pending()
        elapsed = time.perf_counter() - started
        done = read_job(layout, job.erasure_id)
        assert done is not None and done.status == "completed"
        figures: dict[str, float] = {
            "history_events": float(history_events),
            "log_events": float(log_events),
            "log_mb": log_bytes / 1e6,
            "lake_mb": _size(lake_run_files(layout.lake_dir)) / 1e6,
            "warehouse_mb": layout.dbt_db.stat().st_size / 1e6,
            "erasure_s": elapsed,
            **{f"step_{step}_s": seconds for step, seconds in done.seconds.items()},
            **{f"rows_{store}": float(rows) for store, rows in done.rows.items()},
            "floor_s": floor,
            "erasure_vs_floor": elapsed / floor,
        }
        return figures


def main() -> None:
    from benchmarks import show

    show("privacy erasure: one viewer, 30 days x 1,000 creators (2 events/s) vs I/O floor", run())


if __name__ == "__main__":
    main()
