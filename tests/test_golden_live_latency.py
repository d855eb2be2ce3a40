"""Live latency percentiles through the real API, pipeline and dbt build.

The scenario of `tests.support.live_latency` (one live stream, two viewers, two UTC
minutes; a retried heartbeat, a heartbeat without the field, the field on VOD and on an
end event) is posted to the real API process, the pipeline's local mode runs as its own
command and `dbt build` builds every model and runs every test
(`tests.support.golden.build_golden_warehouse`). `live_minute_latency` must hold the
per-minute p50/p95 worked out by hand, and `live_sessions` the whole session's, which is
not the average of the minutes'.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from expectations import run_checkpoint
from expectations.suites import live_minute_latency, live_sessions
from marquee.layout import DataLayout
from refresh.dbt_cli import run_dbt_build
from tests.support import REPO_ROOT
from tests.support.api import APP_ID, WRITE_KEY, start_api
from tests.support.golden import build_golden_warehouse
from tests.support.live_latency import (
    CATALOGUE,
    CREATOR_ID,
    EXPECTED_MINUTES,
    EXPECTED_SESSION,
    LIVE_ID,
    LatencyScenario,
    latency_scenario,
    latency_warehouse,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[LatencyScenario, Path]:
    scenario, data_dir = latency_warehouse(lambda: tmp_path_factory.mktemp("golden-latency"))
    return scenario, DataLayout(data_dir).dbt_db


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def test_latency_percentiles_per_live_and_minute(built: tuple[LatencyScenario, Path]) -> None:
    scenario, db = built
    got = {
        row["epoch_minute"] - scenario.first_minute: (
            row["latency_heartbeats"],
            row["live_latency_p50_ms"],
            row["live_latency_p95_ms"],
        )
        for row in rows(db, "select * from main.live_minute_latency")
        if row["live_id"] == LIVE_ID
    }
    assert got == EXPECTED_MINUTES
    assert {row["live_id"] for row in rows(db, "select * from main.live_minute_latency")} == {
        LIVE_ID
    }, "VOD heartbeats carry no live latency"


def test_latency_percentiles_over_the_whole_session(built: tuple[LatencyScenario, Path]) -> None:
    _, db = built
    (row,) = rows(db, f"select * from main.live_sessions where live_id = '{LIVE_ID}'")
    got = (row["latency_heartbeats"], row["live_latency_p50_ms"], row["live_latency_p95_ms"])
    assert got == EXPECTED_SESSION
    minute_p95s = [p95 for _, _, p95 in EXPECTED_MINUTES.values()]
    assert row["live_latency_p95_ms"] != pytest.approx(sum(minute_p95s) / len(minute_p95s))


def test_the_latency_marts_pass_their_expectation_suites(
    built: tuple[LatencyScenario, Path],
) -> None:
    _, db = built
    layout = DataLayout(db.parent.parent)
    datasets = [*live_minute_latency.DATASETS, *live_sessions.DATASETS]
    report = run_checkpoint(layout, db, datasets=datasets, build_docs=False)
    assert not [f for f in report.failures if f.severity == "critical"], report.failures


def test_a_late_heartbeat_reaches_the_built_marts_incrementally(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The scenario without its late heartbeat is built; then the heartbeat arrives, the
    pipeline commits it in a later run and a plain (incremental) build merges only that
    run into the staging rows: the marts then hold exactly the whole scenario's figures."""
    scenario = latency_scenario()
    golden = {
        "catalogue": {
            "creators": [{"creator_id": CREATOR_ID, "name": "Latency creator"}],
            "content": CATALOGUE,
        },
        "events_in_delivery_order": scenario.events,
    }
    data_dir = tmp_path_factory.mktemp("latency-late") / "data"
    db = build_golden_warehouse(data_dir, golden)
    (before,) = rows(db, f"select * from main.live_sessions where live_id = '{LIVE_ID}'")
    assert before["latency_heartbeats"] == EXPECTED_SESSION[0] - 1
    api = start_api(data_dir, {"MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"})
    try:
        response = api.post({"events": scenario.late})
        assert response.status_code == 202 and response.json()["rejected"] == []
    finally:
        api.stop()
    pipeline = subprocess.run(
        [sys.executable, "-m", "pipelines", "local", "--once"],
        cwd=REPO_ROOT, env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    build = run_dbt_build(DataLayout(data_dir))
    assert build.success, build.output[-5000:]
    minutes = {
        row["epoch_minute"] - scenario.first_minute: (
            row["latency_heartbeats"],
            row["live_latency_p50_ms"],
            row["live_latency_p95_ms"],
        )
        for row in rows(db, "select * from main.live_minute_latency")
    }
    assert minutes == EXPECTED_MINUTES
    (after,) = rows(db, f"select * from main.live_sessions where live_id = '{LIVE_ID}'")
    got = (after["latency_heartbeats"], after["live_latency_p50_ms"], after["live_latency_p95_ms"])
    assert got == EXPECTED_SESSION
