"""The soak's printed report of its processes (`tools.soak.run.report_lines`): the refresh
loop's checkpoint worker, replaced every few checkpoints by design, is reported by each
worker's highest memory, and a worker not running at a sample is no error."""

from __future__ import annotations

import os

import pytest

from refresh.checkpoint_worker import CHECKPOINTS_PER_WORKER
from tools.soak.processes import ProcessFigures, figures
from tools.soak.run import CHECKPOINT_WORKER, KILLABLE, SoakReport, report_lines

pytestmark = pytest.mark.unit


def process_lines(report: SoakReport) -> dict[str, str]:
    """The report's lines about processes, by the name before the colon."""
    named = (line.split(":", 1) for line in report_lines(report) if ":" in line)
    return {
        name.strip(): rest
        for name, rest in named
        if name.strip() in (*KILLABLE, CHECKPOINT_WORKER, "total")
    }


def test_the_checkpoint_worker_is_reported_by_each_workers_highest_memory() -> None:
    """Three workers seen: start and end figures, the highest of all and of each worker in
    the order seen; the total sums the processes running at start and at end."""
    this = figures(os.getpid())
    assert this is not None
    parts: dict[str, ProcessFigures | None] = dict.fromkeys(KILLABLE, this)
    report = SoakReport(
        start=parts | {CHECKPOINT_WORKER: ProcessFigures(pid=101, rss_mb=400.0, open_files=9)},
        end=parts | {CHECKPOINT_WORKER: None},
        checkpoint_worker_peaks={101: 480.4, 202: 491.6, 303: 470.0},
    )

    lines = process_lines(report)

    worker = lines[CHECKPOINT_WORKER]
    assert "RSS 400 MB -> -, open files 9 -> -" in worker
    assert "highest 492 MB" in worker
    assert f"3 worker(s) seen (replaced every {CHECKPOINTS_PER_WORKER} checkpoints)" in worker
    assert worker.endswith("each one's highest: 480, 492, 470 MB")
    assert "memory slope" not in worker
    total_start = 4 * this.rss_mb + 400.0
    assert lines["total"].startswith(f" RSS {total_start:.0f} MB -> {4 * this.rss_mb:.0f} MB")
    assert all("memory slope" in lines[kind] for kind in KILLABLE)


def test_a_checkpoint_worker_never_seen_is_said_so() -> None:
    """Before the first checkpoint (or a soak too short for one) nothing was sampled."""
    report = SoakReport(start={CHECKPOINT_WORKER: None}, end={})

    lines = process_lines(report)

    assert lines[CHECKPOINT_WORKER] == " RSS - -> -, open files - -> -; never seen running"
    assert lines["total"].startswith(" RSS - -> -")


def test_many_workers_are_shown_first_and_last() -> None:
    report = SoakReport(checkpoint_worker_peaks={pid: 400.0 + pid for pid in range(1, 11)})

    worker = process_lines(report)[CHECKPOINT_WORKER]

    assert "10 worker(s) seen" in worker
    assert worker.endswith("each one's highest: 401, 402, 403, 404, ..., 408, 409, 410 MB")
