"""The erasure worker killed (SIGKILL) again and again mid-way resumes and completes.

A data directory with the golden scenario in 36 sealed segments, quarantine records, the
lake of 12 pipeline runs and a warehouse and published copy made from it; one erasure job.
`python -m refresh.erasure` (slowed by `--pause-s` so kills land inside steps) is killed
at random moments until the job is done, then run to the end. The result must be exactly
the result of an uninterrupted erasure: no store holds the pseudonym, every table is what
it was with the pseudonym replaced by the job's token, one audit line.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from marquee.intake.enrich import Pseudonymiser
from marquee.intake.quarantine import QuarantineRecord, encode_records
from marquee.layout import DataLayout
from marquee.privacy.jobs import STEPS, audit_log, new_job, read_job
from pipelines.local_runner import LocalRunner
from tests.support import REPO_ROOT
from tests.support.erasure import lake_snapshot, places_holding, rekeyed, snapshot
from tests.support.segments import golden_log_lines, write_segments

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ERASED = "v_g_4"


def build_stores(layout: DataLayout, pseudonym: str) -> None:
    lines, _ = golden_log_lines()
    write_segments(layout, [[line] for line in lines])
    layout.quarantine_dir.mkdir(parents=True, exist_ok=True)
    for index in range(4):
        record = QuarantineRecord(
            quarantined_at_ms=int(time.time() * 1000),
            app_id="app",
            reason="invalid_value",
            detail="platform",
            payload=f'{{"viewer_id":"{pseudonym if index % 2 else "other"}"}}',
        )
        (layout.quarantine_dir / f"{int(time.time() * 1000):013d}-q-{index:06d}.seg").write_bytes(
            encode_records([record])
        )
    LocalRunner(layout, max_segments_per_run=3).drain()
    with duckdb.connect(str(layout.dbt_db)) as connection:
        for table in (
            "view_summaries",
            "story_viewer_facts",
            "live_viewer_facts",
            "minute_aggregates",
        ):
            glob = str(layout.lake_table_dir(table) / "*.parquet")
            connection.execute(f"create table {table} as select * from read_parquet('{glob}')")
    layout.serving_db.write_bytes(layout.dbt_db.read_bytes())


def test_a_killed_erasure_resumes_and_completes(data_dir: Path) -> None:
    layout = DataLayout(data_dir).ensure()
    pseudonym = Pseudonymiser(b"k")("app", ERASED)
    build_stores(layout, pseudonym)
    places = places_holding(data_dir, pseudonym)
    assert {p.split("/")[0].split(":")[0] for p in places} >= {"log", "quarantine", "lake"}
    lake_before = lake_snapshot(layout.lake_dir)
    warehouse_before = snapshot(layout.dbt_db)
    job = new_job(layout, [pseudonym])

    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    command = [sys.executable, "-m", "refresh.erasure", "--pause-s", "0.05"]
    rng = random.Random(22)
    progress: list[tuple[str, ...]] = []
    for _ in range(12):
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 3.0))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = read_job(layout, job.erasure_id)
        assert state is not None
        if state.status == "completed":
            break
        progress.append(tuple(state.done))
    interrupted = [done for done in progress if len(done) < len(STEPS)]
    assert len(interrupted) >= 3, progress
    assert len(set(interrupted)) >= 2, f"kills landed in one place only: {progress}"

    final = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    done = read_job(layout, job.erasure_id)
    assert done is not None and done.status == "completed" and tuple(done.done) == STEPS

    assert places_holding(data_dir, pseudonym) == []
    rekey = (pseudonym, done.token)
    assert lake_snapshot(layout.lake_dir) == rekeyed(lake_before, *rekey)
    assert snapshot(layout.dbt_db) == rekeyed(warehouse_before, *rekey)
    assert snapshot(layout.serving_db) == rekeyed(warehouse_before, *rekey)
    assert len(audit_log(layout).read_text().splitlines()) == 1
