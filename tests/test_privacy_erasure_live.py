"""An erasure while the pipeline runs and a writer's segment, open when the job was made,
is sealed only later with the viewer's events in it.

The pipeline's local loop (`python -m pipelines local`) keeps landing runs of new
segments; a segment writer opened before the erasure holds events of the erased viewer
and seals them while the worker (`python -m refresh.erasure`) is at work, as an API
worker's open segment would. When the worker has finished and the pipeline has consumed
everything, no segment and no lake file holds the pseudonym, and those events count in
the lake under the erasure's token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from marquee.eventlog.segments import SegmentWriter, sealed_segments
from marquee.intake.enrich import Pseudonymiser
from marquee.lake_runs import read_pipeline_status
from marquee.layout import DataLayout
from marquee.privacy.jobs import new_job, read_job
from tests.support import REPO_ROOT
from tests.support.erasure import build_stores, places_holding
from tests.support.segments import golden_log_lines

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ERASED = "v_g_4"


def with_new_ids(lines: list[bytes]) -> bytes:
    """The lines as new events (fresh event ids), so the pipeline counts them again."""
    out = []
    for line in lines:
        record = json.loads(line)
        record["event_id"] = str(uuid.uuid4())
        record["session_id"] = f"{record.get('session_id', '')}-late"
        out.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    return b"".join(out)


def test_an_erasure_alongside_the_pipeline_and_a_late_sealed_segment(data_dir: Path) -> None:
    layout = DataLayout(data_dir).ensure()
    pseudonym = Pseudonymiser(b"k")("app", ERASED)
    build_stores(layout, pseudonym)
    lines, _ = golden_log_lines()
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    pipeline = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "local", "--interval-s", "0.3"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        open_writer = SegmentWriter(layout.log_dir, max_bytes=1 << 30, max_age_s=3600)
        open_writer.write(with_new_ids(lines))
        open_writer.sync()
        job = new_job(layout, [pseudonym])
        stop = threading.Event()

        def keep_writing() -> None:
            writer = SegmentWriter(layout.log_dir, max_bytes=1 << 30, max_age_s=3600)
            others = [line for line in lines if pseudonym.encode() not in line]
            while not stop.wait(0.3):
                writer.write(with_new_ids(others))
                writer.seal()
            writer.seal()

        other_writer = threading.Thread(target=keep_writing)
        other_writer.start()
        threading.Timer(4.0, open_writer.seal).start()
        worker = subprocess.run(
            [sys.executable, "-m", "refresh.erasure"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        stop.set()
        other_writer.join()
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        done = read_job(layout, job.erasure_id)
        assert done is not None and done.status == "completed", worker.stdout[-3000:]

        last = sealed_segments(layout.log_dir)[-1].name
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = read_pipeline_status(layout)
            if status.last_run_id is not None and _consumed(layout, last):
                break
            time.sleep(0.5)
    finally:
        pipeline.send_signal(signal.SIGTERM)
        pipeline.wait(timeout=60)

    assert places_holding(data_dir, pseudonym) == []
    late_rows = places_holding(data_dir, done.token)
    assert any(place.startswith("lake:view_summaries") for place in late_rows), late_rows


def _consumed(layout: DataLayout, segment: str) -> bool:
    """Whether the pipeline has committed the run holding `segment` (its state file is
    opened read-only for a moment; the pipeline waits out the lock)."""
    import duckdb

    try:
        with duckdb.connect(str(layout.state_db), read_only=True) as connection:
            row = connection.execute(
                "select count(*) from consumed_segments where segment = $s", {"s": segment}
            ).fetchone()
    except duckdb.IOException:
        return False
    return bool(row and row[0])
