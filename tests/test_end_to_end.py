"""The whole flow with real parts: API process -> segment log -> Beam -> lake -> dbt -> mart.

Posts the golden scenario (rebased in time) through the real API in shuffled batches, with
one event sent twice as a client retry would, then runs the pipeline's local mode and the
refresh step (`dbt build`, the GX checkpoint, publishing) as their own commands, and checks
the mart the dashboards read against the scenario's expected minute totals.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support import REPO_ROOT
from tests.support.api import ApiProcess
from tests.support.golden import load_scenario

pytestmark = pytest.mark.e2e

MEASURES = {
    "attempts": "play_requests",
    "starts": "starts",
    "fatal_errors": "fatal_errors",
    "played_ms": "played_ms",
    "stalled_ms": "stalled_ms",
}


def run_command(*argv: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_golden_scenario_end_to_end(api: ApiProcess) -> None:
    scenario = load_scenario()
    events = scenario["events_in_delivery_order"]
    ids = [event["event_id"] for event in events]
    assert len(ids) > len(set(ids)), "the scenario carries a retried (duplicate) event"
    for start in range(0, len(events), 7):
        response = api.post({"events": events[start : start + 7]})
        assert response.status_code == 202
        assert response.json()["rejected"] == []
    api.stop()

    pipeline = run_command("-m", "pipelines", "local", "--once", data_dir=api.data_dir)
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    refresh = run_command("-m", "refresh", "--once", data_dir=api.data_dir)
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-3000:]

    serving = api.data_dir / "warehouse" / "serving.duckdb"
    with duckdb.connect(str(serving), read_only=True) as conn:
        rows = conn.execute(
            "select content_id, "
            + ", ".join(f"sum({column})::bigint" for column in MEASURES.values())
            + " from main.content_daily_performance group by content_id"
        ).fetchall()
    marts = {row[0]: dict(zip(MEASURES, row[1:], strict=True)) for row in rows}
    expected = scenario["expected"]["minutes"]["totals_over_all_minutes"]
    for content_id, values in expected.items():
        assert marts[content_id] == values
