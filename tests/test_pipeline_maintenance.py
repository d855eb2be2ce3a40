"""Local mode's loop applies retention and compacts the lake between its runs.

`python -m pipelines local` with maintenance every second, no minimum age, two run files
enough to compact, no grace and a one-second horizon without retention: as runs commit,
their run files become one compacted file, the consumed segments are deleted, and the
lake's rows stay those of the events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marquee.lake import MINUTE_AGGREGATES, ensure_lake
from marquee.lake_runs import lake_files_of, read_pipeline_status
from marquee.layout import DataLayout
from tests.support import REPO_ROOT
from tests.support.lake_history import fingerprints
from tests.support.segments import golden_log_lines, totals, write_segments

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_the_loop_compacts_run_files_and_deletes_consumed_segments(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    ensure_lake(layout)
    lines, expected = golden_log_lines()
    env = {
        **os.environ,
        "MARQUEE_DATA_DIR": str(layout.root),
        "MARQUEE_COMPACTION_INTERVAL_S": "1",
        "MARQUEE_COMPACTION_MIN_AGE_S": "0",
        "MARQUEE_COMPACTION_MIN_FILES": "2",
        "MARQUEE_COMPACTION_GRACE_S": "0",
        "MARQUEE_LATENESS_HORIZON_S": "1",
        "MARQUEE_LOG_RETENTION_S": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "local", "--interval-s", "0.5"],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    try:
        # Three runs, one segment each, the next written once the previous one is committed.
        thirds = [lines[:12], lines[12:24], lines[24:]]
        deadline = time.monotonic() + 180
        for run, chunk in enumerate(thirds, start=1):
            write_segments(layout, [chunk], start=run * 1000)
            while (read_pipeline_status(layout).last_run_id or 0) < run:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        while time.monotonic() < deadline:
            files = lake_files_of(directory)
            if not list(layout.log_dir.glob("*.seg")) and [f.compacted for f in files] == [True]:
                break
            assert process.poll() is None
            time.sleep(0.2)
        files = lake_files_of(directory)
        assert [(f.first, f.last, f.compacted) for f in files] == [(1, 3, True)], files
        assert list(layout.log_dir.glob("*.seg")) == [], "consumed and past the horizon"
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors[-3000:]
    assert "compacted minute_aggregates runs 1.." in errors, errors[-3000:]
    minute_rows = fingerprints(layout)[MINUTE_AGGREGATES][0]
    assert minute_rows > 0
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
