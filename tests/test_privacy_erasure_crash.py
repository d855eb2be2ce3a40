"""The erasure worker killed (SIGKILL) again and again mid-way resumes and completes.

A data directory with the golden scenario in 36 sealed segments, quarantine records, the
lake of 12 pipeline runs and a warehouse and published copy made from it; one erasure job.
`python -m refresh.erasure` (slowed by `--pause-s` so kills land inside steps) is killed
at a random moment after each step it finishes, so every restart resumes further on and
most kills land inside a step, until the job is done; then it runs to the end. The result
must be exactly the result of an uninterrupted erasure: no store holds the pseudonym,
every table is what it was with the pseudonym replaced by the job's token, one audit line.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marquee.intake.enrich import Pseudonymiser
from marquee.layout import DataLayout
from marquee.privacy.jobs import STEPS, audit_log, new_job, read_job
from tests.support import REPO_ROOT
from tests.support.erasure import build_stores, lake_snapshot, places_holding, rekeyed, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ERASED = "v_g_4"


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
    for _ in range(len(STEPS) + 4):
        before = len(progress[-1]) if progress else 0
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL)
        if not wait_for_progress(layout, job.erasure_id, before, process):
            break
        time.sleep(rng.uniform(0.0, 0.6))  # into the next step, or within it
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


def wait_for_progress(
    layout: DataLayout, erasure_id: str, done_before: int, process: subprocess.Popen[bytes]
) -> bool:
    """Until the worker has finished one more step (True), or exited (False). Started
    processes take seconds to import on a busy machine, so kills wait for progress."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        state = read_job(layout, erasure_id)
        if state is not None and len(state.done) > done_before:
            return True
        time.sleep(0.05)
    return False
