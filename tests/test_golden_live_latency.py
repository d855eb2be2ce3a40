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

from pathlib import Path
from typing import Any

import duckdb
import pytest

from expectations import run_checkpoint
from expectations.suites import live_minute_latency, live_sessions
from marquee.layout import DataLayout
from tests.support.live_latency import (
    EXPECTED_MINUTES,
    EXPECTED_SESSION,
    LIVE_ID,
    LatencyScenario,
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
