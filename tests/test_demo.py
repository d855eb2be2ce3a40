"""`python -m marquee.demo` as `make demo` runs it: every part up, views on the dashboard's
warehouse within minutes, and Ctrl-C stopping every child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import REPO_ROOT, free_port

pytestmark = pytest.mark.timeout(400)


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
            [sys.executable, "-m", "marquee.demo", "--rate", "100", "--creators", "10",
             "--api-port", str(api_port), "--dashboard-port", str(dashboard_port),
             "--refresh-interval-s", "20"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
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
            assert len(children) == 5
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=60)
    output = log_path.read_text()
    assert "write key: wk_" in output
    assert "[demo     ] stopped" in output
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), f"child {pid} still running"
