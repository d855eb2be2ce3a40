"""Clips from a live session through the real API, pipeline and dbt build.

The scenario of `tests.support.clip_scenario` (a live nine days ago, two clips cut from it
viewed within and beyond 7 days of its first minute, a viewer of both clips, a clip whose
live has no session, a live without clips) goes through the catalogue endpoint and the
real API (with a 10-day lateness horizon), the pipeline's local mode and `dbt build`
(`tests.support.golden.build_golden_warehouse`). live_session_clips must show the numbers
worked out by hand in the scenario.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from expectations import run_checkpoint
from expectations.suites import live_session_clips
from marquee.layout import DataLayout
from tests.support.clip_scenario import EXPECTED, HORIZON_ENV, LIVE, clip_scenario
from tests.support.golden import build_golden_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    scenario = clip_scenario()
    data_dir = tmp_path_factory.mktemp("golden-clips") / "data"
    return scenario, build_golden_warehouse(data_dir, scenario, HORIZON_ENV)


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def test_clips_views_count_within_seven_days_of_the_live(
    built: tuple[dict[str, Any], Path],
) -> None:
    scenario, db = built
    actual = {row["live_id"]: row for row in rows(db, "select * from main.live_session_clips")}
    assert set(actual) == set(EXPECTED), "one row per live session, none for a stray clip's live"
    for live_id, expected in EXPECTED.items():
        assert {name: actual[live_id][name] for name in expected} == expected, live_id
    row = actual[LIVE]
    start = scenario["live_start"]
    assert row["first_minute"] == int(start.timestamp()) // 60
    assert row["clip_watch_time_hours"] == pytest.approx(row["clip_watched_ms"] / 3_600_000)
    ends = row["clip_window_ends_at"]
    assert int(ends.timestamp()) == int(start.timestamp()) + 7 * 86_400


def test_the_view_beyond_seven_days_is_still_a_view_of_its_clip(
    built: tuple[dict[str, Any], Path],
) -> None:
    """The window bounds the metric, not the data: the late view is in playback_sessions."""
    _, db = built
    views = rows(
        db,
        "select content_id, count(*) as views from main.playback_sessions "
        "where content_id like 'clip_%' group by 1",
    )
    assert {row["content_id"]: row["views"] for row in views} == {
        "clip_a": 2,
        "clip_b": 2,
        "clip_stray": 1,
    }


def test_the_mart_passes_its_expectation_suite(built: tuple[dict[str, Any], Path]) -> None:
    _, db = built
    layout = DataLayout(db.parent.parent)
    report = run_checkpoint(
        layout, db, datasets=list(live_session_clips.DATASETS), build_docs=False
    )
    assert report.failures == []
    assert [(suite.name, suite.rows) for suite in report.suites] == [("live_session_clips", 2)]
    assert report.suites[0].evaluated > 0
