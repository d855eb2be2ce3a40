"""The erasure worker: moves each pending erasure job through its steps, durably.

Runs as a step of the refresh loop (every cycle, before the dbt build, so the warehouse
is rewritten by the process that builds it and never waits on its lock) and as its own
command, `python -m refresh.erasure`, for an operator or a test. One process at a time
works on the jobs (an `flock` on `state/erasures/.lock`); a second one returns at once.

Steps (`marquee.privacy.jobs.STEPS`), each recorded in the job file when done:

- `wait_open_segments`: the API drops the viewer's events from the moment the job file
  exists, so what is left to find is in segments open then; wait (a few seconds) until
  every segment of the log and the quarantine opened before the job (plus a grace for a
  request already in flight) is sealed.
- `log`, `quarantine`: rewrite each sealed segment holding a pseudonym.
- `lake`: rewrite each Parquet run file holding one (viewer-level tables, dead letters).
- `settle`: the pipeline may have read a segment before `log` rewrote it and landed a run
  since; files changed after the scan began are checked again, the last pass while
  holding the pipeline's state file (its lock), so no run is under way meanwhile.
- `warehouse`: re-key every text column of `dbt.duckdb` in one transaction (waits for
  dbt's lock when run outside the refresh loop).
- `serving`: rebuild the published copy re-keyed and rename it into place.
- `reports`: rewrite any file of the expectations' results and Data Docs (`gx/`) and the
  refresh status that quotes a pseudonym (a failing row's values).
- `audit`: one line in `state/privacy_audit.jsonl`, then the job is `completed`.

After the lateness horizon the job's pseudonyms are removed (the tombstone expires).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from marquee.eventlog.segments import OPEN_SUFFIX, recover_open_segments, sealed_segments
from marquee.layout import DataLayout
from marquee.privacy.jobs import (
    STEPS,
    ErasureJob,
    all_jobs,
    append_audit,
    erasures_dir,
    save_job,
)
from marquee.privacy.stores import (
    connect_when_free,
    file_stamp,
    lake_run_files,
    rewrite_database_copy,
    rewrite_database_in_place,
    rewrite_lake,
    rewrite_segments,
)

log = logging.getLogger("marquee.privacy")

IN_FLIGHT_GRACE_MS = 3_000
"""How long after a job is written a request that read no tombstone may still append."""
OPEN_SEGMENT_WAIT_S = 60.0
"""Longest wait for the open segments to be sealed (writers seal every 2 s by default)."""
SETTLE_PASSES = 5
"""Passes over newly changed files before the last one, held under the pipeline's lock."""


class ErasureWorker:
    """Runs the pending jobs of one data directory.

    `pause_s` sleeps between files and steps: a throttle for a busy machine, and what lets
    the crash test kill the worker in the middle of a step.
    """

    def __init__(self, layout: DataLayout, lateness_horizon_s: int, pause_s: float = 0.0) -> None:
        self.layout = layout
        self.lateness_horizon_ms = lateness_horizon_s * 1000
        self.pause_s = pause_s

    def run_pending(self) -> int:
        """Finish every pending job and expire old tombstones; returns the jobs completed."""
        with self._exclusive() as mine:
            if not mine:
                return 0
            completed = 0
            for job in all_jobs(self.layout):
                if job.status != "completed":
                    self.run_job(job)
                    completed += 1
                elif not job.tombstone_expired:
                    self._expire(job)
            return completed

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        directory = erasures_dir(self.layout)
        if not directory.exists():
            yield False
            return
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def run_job(self, job: ErasureJob) -> ErasureJob:
        started = time.monotonic()
        if job.status == "pending":
            job.status = "running"
            save_job(self.layout, job)
        for step in STEPS:
            if step in job.done:
                continue
            step_started = time.monotonic()
            getattr(self, f"_step_{step}")(job)
            job.seconds[step] = round(time.monotonic() - step_started, 3)
            job.done.append(step)
            if step == "audit":
                job.status = "completed"
            save_job(self.layout, job)
            log.info("erasure %s: %s done in %.2f s", job.erasure_id, step, job.seconds[step])
            self._pause()
        log.info(
            "erasure %s completed in %.1f s: %s",
            job.erasure_id,
            time.monotonic() - started,
            ", ".join(f"{store} {rows}" for store, rows in job.rows.items()),
        )
        return job

    def _pause(self) -> None:
        if self.pause_s:
            time.sleep(self.pause_s)

    def _count(self, job: ErasureJob, store: str, rows: int) -> None:
        job.rows[store] = job.rows.get(store, 0) + rows

    def _step_wait_open_segments(self, job: ErasureJob) -> None:
        ready_at_ms = job.requested_at_ms + IN_FLIGHT_GRACE_MS
        while (now_ms := int(time.time() * 1000)) < ready_at_ms:
            time.sleep((ready_at_ms - now_ms) / 1000)
        directories = (self.layout.log_dir, self.layout.quarantine_dir)
        deadline = time.monotonic() + OPEN_SEGMENT_WAIT_S
        while True:
            waiting = [path for d in directories for path in _open_before(d, ready_at_ms)]
            if not waiting:
                return
            for directory in directories:
                recover_open_segments(directory)
            if time.monotonic() > deadline:
                log.warning(
                    "erasure %s: %d open segments still open after %.0f s; going on",
                    job.erasure_id,
                    len(waiting),
                    OPEN_SEGMENT_WAIT_S,
                )
                return
            time.sleep(0.2)

    def _scan_start(self, job: ErasureJob) -> None:
        if job.scan_started_ms is None:
            job.scan_started_ms = int(time.time() * 1000)
            save_job(self.layout, job)

    def _step_log(self, job: ErasureJob) -> None:
        self._scan_start(job)
        rows = rewrite_segments(
            sealed_segments(self.layout.log_dir), job.pseudonyms, job.token, self._pause
        )
        self._count(job, "log", rows)

    def _step_quarantine(self, job: ErasureJob) -> None:
        self._scan_start(job)
        rows = rewrite_segments(
            sealed_segments(self.layout.quarantine_dir), job.pseudonyms, job.token, self._pause
        )
        self._count(job, "quarantine", rows)

    def _step_lake(self, job: ErasureJob) -> None:
        self._scan_start(job)
        rows = rewrite_lake(
            lake_run_files(self.layout.lake_dir), job.pseudonyms, job.token, self._pause
        )
        self._count(job, "lake", rows)

    def _step_settle(self, job: ErasureJob) -> None:
        since_ms = (job.scan_started_ms or job.requested_at_ms) - 2_000
        for _ in range(SETTLE_PASSES):
            pass_started_ms = int(time.time() * 1000) - 2_000
            if self._settle_pass(job, since_ms) == 0:
                break
            since_ms = pass_started_ms
        with self._pipeline_idle():
            self._settle_pass(job, since_ms)

    def _settle_pass(self, job: ErasureJob, since_ms: int) -> int:
        """Re-check the files changed since `since_ms`; returns how many there were."""
        segments = [
            path
            for directory in (self.layout.log_dir, self.layout.quarantine_dir)
            for path in _changed_since(sealed_segments(directory), since_ms)
        ]
        lake = _changed_since(lake_run_files(self.layout.lake_dir), since_ms)
        nothing = _no_pause
        self._count(job, "log", rewrite_segments(segments, job.pseudonyms, job.token, nothing))
        self._count(job, "lake", rewrite_lake(lake, job.pseudonyms, job.token, nothing))
        return len(segments) + len(lake)

    @contextlib.contextmanager
    def _pipeline_idle(self) -> Iterator[None]:
        """Hold the pipeline's state file: no run plans, reads or commits meanwhile."""
        state = self.layout.state_db
        if not state.exists():
            yield
            return
        with connect_when_free(state, pause_s=0.05):
            yield

    def _step_warehouse(self, job: ErasureJob) -> None:
        rows = rewrite_database_in_place(self.layout.dbt_db, job.pseudonyms, job.token)
        self._count(job, "warehouse", rows)

    def _step_serving(self, job: ErasureJob) -> None:
        rows = rewrite_database_copy(self.layout.serving_db, job.pseudonyms, job.token)
        self._count(job, "serving", rows)

    def _step_reports(self, job: ErasureJob) -> None:
        """Validation results and Data Docs (`gx/`) and the refresh status may quote a
        failing row's values; any text file there holding a pseudonym is rewritten."""
        gx = self.layout.gx_dir
        files = [path for path in gx.rglob("*") if path.is_file()] if gx.exists() else []
        files.append(self.layout.refresh_status)
        existing = [path for path in files if path.exists() and not path.name.startswith(".")]
        self._count(
            job, "reports", rewrite_segments(existing, job.pseudonyms, job.token, _no_pause)
        )

    def _step_audit(self, job: ErasureJob) -> None:
        job.completed_at_ms = job.completed_at_ms or int(time.time() * 1000)
        append_audit(self.layout, job)

    def _expire(self, job: ErasureJob) -> None:
        """Forget the pseudonyms once the horizon has passed: later events count anew."""
        if int(time.time() * 1000) - job.requested_at_ms < self.lateness_horizon_ms:
            return
        job.pseudonyms = []
        job.tombstone_expired = True
        save_job(self.layout, job)


def _no_pause() -> None:
    return None


def _open_before(directory: Path, before_ms: int) -> list[Path]:
    """Open segments created before `before_ms` (their names start with that time)."""
    if not directory.exists():
        return []
    found = []
    for path in directory.glob(f"*{OPEN_SUFFIX}"):
        prefix = path.name.split("-", 1)[0]
        if not prefix.isdigit() or int(prefix) <= before_ms:
            found.append(path)
    return found


def _changed_since(paths: list[Path], since_ms: int) -> list[Path]:
    changed = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if file_stamp(path) >= since_ms:
                changed.append(path)
    return changed
