"""`python -m tools.demo` as `make demo` runs it: every part up, views on the dashboard's
warehouse within minutes, live streams on air in the first minute whatever the UTC hour, the
first impression printed (admin token, pages to open, the invalid share), Beam's import noise
dropped, per-run lines folded into the status line, and Ctrl-C stopping every child process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.support import REPO_ROOT
from tests.support.api import free_port
from tools.demo import (
    BEAM_IMPORT_NOISE,
    Counters,
    DemoOptions,
    first_pages,
    invalid_share_announcement,
    is_beam_import_noise,
    parts,
)
from tools.simulator.faults import FaultRates

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def served_views(serving: Path) -> int:
    if not serving.exists():
        return 0
    try:
        with duckdb.connect(str(serving), read_only=True) as conn:
            row = conn.execute(
                "select coalesce(sum(views), 0) from main.creator_daily_performance"
            ).fetchone()
    except duckdb.Error:
        return 0
    return int(row[0]) if row else 0


def live_minutes_on_air(lake: Path, since_ms: int) -> set[str]:
    """Live contents with playback in the lake's minute aggregates from `since_ms` on."""
    files = list((lake / "minute_aggregates").glob("run-*.parquet"))
    if not files:
        return set()
    rows = duckdb.execute(
        "select distinct content_id from read_parquet(?) "
        "where content_type = 'live' and epoch_minute * 60000 >= ?",
        [[str(f) for f in files], since_ms - 60_000],
    ).fetchall()
    return {row[0] for row in rows}


def child_pids(parent: int) -> list[int]:
    output = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in output.split()]


def test_demo_serves_views_then_stops_every_part_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_port, dashboard_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "MARQUEE_WRITE_KEYS"}
    env["MARQUEE_DATA_DIR"] = str(data_dir)
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "tools.demo", "--rate", "100", "--creators", "10",
             "--api-port", str(api_port), "--dashboard-port", str(dashboard_port),
             "--refresh-interval-s", "20"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        started_ms = int(time.time() * 1000)
        try:
            deadline = time.monotonic() + 240
            while (
                time.monotonic() < deadline
                and served_views(data_dir / "warehouse" / "serving.duckdb") == 0
            ):
                assert demo.poll() is None, log_path.read_text()[-3000:]
                time.sleep(2)
            assert served_views(data_dir / "warehouse" / "serving.duckdb") > 0, (
                log_path.read_text()[-3000:]
            )
            page = httpx.get(f"http://127.0.0.1:{dashboard_port}/", timeout=10)
            assert page.status_code == 200
            children = child_pids(demo.pid)
            assert len(children) == 6  # api, pipeline, simulator, alerts, refresh, dashboard
            # Whatever the UTC hour, the streams the demo puts on air have viewers at once.
            on_air = live_minutes_on_air(data_dir / "lake", started_ms)
            assert {c for c in on_air if c.endswith("_onair")}, (
                on_air,
                log_path.read_text()[-3000:],
            )
            time.sleep(16)  # one status line after the first build
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=60)
    output = log_path.read_text()
    assert "write key: wk_" in output
    assert "admin token: " in output
    assert "started alerts: alert evaluator: the default rules" in output
    for path in ("live", "creators", "health"):
        assert f"http://127.0.0.1:{dashboard_port}/{path} " in output
    assert "about 0.2 % of events are deliberately invalid" in output
    assert "see /health" in output
    for noise in BEAM_IMPORT_NOISE:
        assert noise not in output
    # The pipeline's and the refresh's per-run lines are counted, not printed.
    assert not re.search(r" run \d+: \d+ segments, \d+ events", output)
    # A cycle that went well is counted; one with failures is printed (it needs a look).
    assert "dbt models ok" not in output
    assert not [
        line
        for line in output.splitlines()
        if "INFO refresh.loop: published" in line and "WITH FAILURES" not in line
    ]
    status = [line for line in output.splitlines() if line.startswith("[demo     ] sent ")]
    assert status, output[-3000:]
    counted = re.search(
        r"pipeline: ([\d,]+) runs, .* refresh: ([\d,]+) builds published", status[-1]
    )
    assert counted and counted.group(1) != "0" and counted.group(2) != "0", status[-1]
    assert "[demo     ] stopped" in output
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), f"child {pid} still running"


def test_per_run_lines_fold_into_counters_and_problems_still_print() -> None:
    counters = Counters()
    assert counters.fold(
        "pipeline",
        "2026-12-06 11:24:18,398 pipelines run 5: 3 segments, 120 events, 1 duplicates, "
        "2 dead letters, 40 minute rows in 0.21 s",
    )
    assert counters.fold(
        "refresh", "2026-12-06 11:25:00,001 INFO refresh.loop: dbt tests ok in 3.1s"
    )
    assert counters.fold(
        "refresh", "2026-12-06 11:25:01,001 INFO refresh.loop: published /d (1.0 MB) in 0.1s"
    )
    assert counters.fold(
        "simulator",
        "[   15.0s] sent 2,900 (193.2/s, target 200) accepted 2,894 rejected 6 failed 0 "
        "retries 0 queued 0",
    )
    summary = counters.summary()
    assert summary.startswith("sent 2,900 (6 rejected) | ")
    assert "pipeline: 1 runs, 120 events, 1 duplicates, 2 dead letters" in summary
    assert "refresh: 1 builds published (tests ok 1, expectations ok 0)" in summary
    # Failures and warnings, and lines that are not per-run, are printed.
    assert not counters.fold(
        "refresh",
        "2026-12-06 11:26:00,001 INFO refresh.loop: published /d (1.0 MB) in 0.1s "
        "WITH FAILURES (see above)",
    )
    # ...and a build published with failures is still a build published.
    assert "refresh: 2 builds published" in counters.summary()
    assert not counters.fold(
        "refresh", "2026-12-06 11:26:00,001 ERROR refresh.loop: !!! dbt tests FAILED"
    )
    assert not counters.fold(
        "pipeline", "2026-12-06 11:24:18,398 pipelines local mode: watching /d/log"
    )
    assert is_beam_import_noise(
        "2026-12-06 11:24:16,685 apache_beam.io.filesystems Failed to import GCSFileSystem; "
        "loading of this filesystem will be skipped."
    )
    assert is_beam_import_noise("2026-12-06 11:24:17,446 root apitools not found, and bigquery")


def test_first_impression_names_pages_and_the_simulators_invalid_share(tmp_path: Path) -> None:
    assert [page.split()[0] for page in first_pages(8501)] == [
        "http://127.0.0.1:8501/live",
        "http://127.0.0.1:8501/creators",
        "http://127.0.0.1:8501/health",
    ]
    # The share announced is the simulator's own default, which the demo does not change.
    assert FaultRates().invalid == 0.002
    assert invalid_share_announcement().startswith("about 0.2 % of events are deliberately")
    assert invalid_share_announcement(FaultRates(invalid=0.05)).startswith("about 5 % ")
    simulator = next(
        p for p in parts("wk", tmp_path, DemoOptions(100, 2, 1, 2, 20)) if p.name == "simulator"
    )
    assert "--invalid-rate" not in simulator.argv
    assert simulator.argv[simulator.argv.index("--lives-on-air") + 1] == "2"
