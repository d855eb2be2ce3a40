"""Local mode's loop outlives a full disk: it says so, backs off, and recovers by itself.

The disk-full fault is the kernel's own: the temporary name the first run's minute file is
written under is kept a symbolic link to /dev/full, where every write fails with ENOSPC
(No space left on device), as on a full disk; the tests run as root, for whom a read-only
directory mode changes nothing. `python -m pipelines local` must keep running, log each
retry with a growing wait, commit nothing meanwhile, and once the disk has room (the link
is removed) commit the run whole, exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from marquee.lake import MINUTE_AGGREGATES, ensure_lake
from marquee.lake_runs import read_pipeline_status
from marquee.layout import DataLayout
from tests.support import REPO_ROOT
from tests.support.segments import golden_log_lines, totals, write_segments

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RETRY = re.compile(r"pipeline run failed \(disk full: .*\); retrying in ([\d.]+) s")


def test_a_full_disk_is_retried_with_backoff_and_the_run_commits_once_it_has_room(
    tmp_path: Path,
) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    ensure_lake(layout)
    lines, expected = golden_log_lines()
    write_segments(layout, [lines])
    full = layout.lake_table_dir(MINUTE_AGGREGATES) / ".run-000000000001.parquet.tmp"
    disk_full = threading.Event()
    disk_full.set()

    def keep_the_disk_full() -> None:
        # The failed write removes its temporary file: the link is put back at once (the
        # loop waits at least 0.25 s before it tries again).
        while disk_full.is_set():
            if not full.is_symlink():
                full.symlink_to("/dev/full")
            time.sleep(0.005)

    keeper = threading.Thread(target=keep_the_disk_full)
    keeper.start()
    env = {
        **os.environ,
        "MARQUEE_DATA_DIR": str(layout.root),
        "MARQUEE_RETRY_INITIAL_S": "0.25",
        "MARQUEE_RETRY_MAX_S": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "local", "--interval-s", "0.5"],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(RETRY.findall("".join(output))) < 4:
            assert process.poll() is None, "".join(output)[-3000:]
            time.sleep(0.2)
        waits = [float(wait) for wait in RETRY.findall("".join(output))]
        assert len(waits) >= 4, "".join(output)[-3000:]
        assert waits[:4] == [0.25, 0.5, 1.0, 2.0], waits
        assert read_pipeline_status(layout).last_run_id is None, "nothing commits on a full disk"
        disk_full.clear()  # room again
        keeper.join()
        full.unlink()
        while time.monotonic() < deadline and read_pipeline_status(layout).last_run_id is None:
            assert process.poll() is None, "".join(output)[-3000:]
            time.sleep(0.2)
        assert read_pipeline_status(layout).last_run_id == 1
        assert process.poll() is None
    finally:
        disk_full.clear()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
        reader.join(timeout=10)
    assert returncode == 0, "".join(output)[-3000:]
    assert "pipeline recovered" in "".join(output)
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
