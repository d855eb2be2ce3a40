"""The refresh loop's checkpoint worker (`refresh.checkpoint_worker.CheckpointWorker`) on a
small data directory: each checkpoint runs in a real child process, which is replaced
after its quota of runs (the bound on the memory a checkpoint process keeps), and the soak
finds that child by its command, as it reports its memory."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from expectations import CheckpointReport
from marquee.layout import DataLayout
from refresh.checkpoint_worker import CheckpointWorker
from tests.support.gx_data import (
    land_runs,
    log_event,
    minute_row,
    now_minute,
    write_segment,
    write_table,
)
from tools.soak.processes import children
from tools.soak.run import CHECKPOINT_WORKER, WORKER_MODULES

pytestmark = pytest.mark.integration

STARTED = re.compile(r"checkpoint worker started \(pid (\d+)\)")
"""What the loop's side logs as it starts a child."""


def workers() -> list[int]:
    """This process's live checkpoint worker children, as the soak finds them."""
    return children(os.getpid(), WORKER_MODULES[CHECKPOINT_WORKER])


def raw_and_lake_rows(report: CheckpointReport) -> dict[str, int | None]:
    by_name = {suite.name: suite for suite in report.suites}
    assert by_name["raw_events"].success and by_name["lake_minutes"].success, report.failures
    return {name: by_name[name].rows for name in ("raw_events", "lake_minutes")}


def test_the_worker_is_replaced_after_its_quota_of_checkpoints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Quota 2: the first two checkpoints run in one child, which then exits; the third
    starts a new child. Each answers a report of the directory's rows (the warehouse has no
    marts: those suites fail as missing, which is a report, not a crash)."""
    caplog.set_level(logging.INFO, logger="refresh.checkpoint_worker")
    layout = DataLayout(tmp_path / "data").ensure()
    write_segment(layout.log_dir, "0001", [log_event(), log_event(type="play_requested")])
    land_runs(layout, [[minute_row(now_minute() - 10)]])
    warehouse = write_table(tmp_path / "warehouse.duckdb", "main.placeholder", [{"x": 1}])
    expected = {"raw_events": 2, "lake_minutes": 1}

    with CheckpointWorker(layout, checkpoints_per_worker=2) as worker:
        assert worker.child_pid is None and workers() == []

        assert raw_and_lake_rows(worker.run(warehouse)) == expected
        first = worker.child_pid
        assert first is not None and workers() == [first]

        assert raw_and_lake_rows(worker.run(warehouse)) == expected
        assert worker.child_pid is None and workers() == []

        assert raw_and_lake_rows(worker.run(warehouse)) == expected
        third = worker.child_pid
        assert third is not None and third != first and workers() == [third]

    assert workers() == []
    # Two children in all: the second checkpoint ran in the first one.
    starts = (STARTED.fullmatch(record.getMessage()) for record in caplog.records)
    assert [int(match[1]) for match in starts if match] == [first, third]
