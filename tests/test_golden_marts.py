"""The golden scenario through the real API, pipeline and dbt build, checked on the marts.

`../shared/golden/scenario_basic.json` (rebased in time) is posted to the real API process
in batches with its client retry, its catalogue is upserted through the admin endpoints, the
pipeline's local mode runs once as its own command, and `dbt build` builds every mart (its
tests included): `tests.support.golden.shared_golden_warehouse`, built once per session and shared
with tests/test_golden_stories.py. Each section under `expected` is then checked against the
mart that carries it, percentages within 0.01.

Sections are checked by the functions in `SECTION_CHECKS`; another mart group adds its own
section (e.g. `stories`) by adding one function there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.golden import shared_golden_warehouse

pytestmark = pytest.mark.integration

TOLERANCE = 0.01

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The scenario and its warehouse, built once per session with tests/test_golden_stories.py."""
    return shared_golden_warehouse(lambda: tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def scenario(golden: tuple[dict[str, Any], Path]) -> dict[str, Any]:
    return golden[0]


@pytest.fixture(scope="module")
def warehouse(golden: tuple[dict[str, Any], Path]) -> Path:
    """The dbt warehouse built from the scenario (the DuckDB file)."""
    return golden[1]


def query(db: Path, sql: str, *parameters: object) -> Rows:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql, list(parameters))
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def assert_matches(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, bool) or value is None or isinstance(value, str):
            assert got == value, f"{where}.{name}: {got!r} != {value!r}"
        else:
            assert got == pytest.approx(value, abs=TOLERANCE), f"{where}.{name}: {got} != {value}"


VIEW_COLUMNS = {
    "started": "is_started",
    "failed": "is_failed",
    "vsf": "is_vsf",
    "ebvs": "is_ebvs",
    "completed": "is_completed",
}
"""METRICS.md field -> playback_sessions mart column where they differ (booleans carry `is_`)."""


def check_views(db: Path, expected: dict[str, Any]) -> None:
    for session_id, fields in expected.items():
        rows = query(db, "select * from main.playback_sessions where session_id = ?", session_id)
        assert len(rows) == 1, f"one row per view: {session_id}"
        row = {field: rows[0][VIEW_COLUMNS.get(field, field)] for field in fields}
        assert_matches(row, fields, f"views.{session_id}")


AD_COLUMNS = {
    "impressions": "ad_impressions",
    "q25_pct": "q25_reach_pct",
    "q50_pct": "q50_reach_pct",
    "q75_pct": "q75_reach_pct",
    "q100_pct": "q100_reach_pct",
    "completion_rate_pct": "ad_completion_rate_pct",
    "skip_rate_pct": "skip_rate_pct",
    "ctr_pct": "ctr_pct",
}


def check_ads(db: Path, expected: dict[str, Any]) -> None:
    rows = query(db, "select * from main.content_daily_ad_performance")
    assert len(rows) == 1, "the scenario's linear ads play in one content on one day"
    row = {field: rows[0][column] for field, column in AD_COLUMNS.items() if field in expected}
    assert set(row) == set(expected), "every expected ad metric has a mart column"
    assert_matches(row, expected, "ads")


def check_vod_summary(db: Path, expected: dict[str, Any]) -> None:
    rows = query(
        db, "select * from main.vod_clip_performance where content_id = ?", expected["content_id"]
    )
    assert len(rows) == 1
    assert_matches(rows[0], expected, "vod_summary")


SECTION_CHECKS: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "views": check_views,
    "ads": check_ads,
    "vod_summary": check_vod_summary,
}
"""expected.<section> -> the check that reads it from the marts."""

SECTIONS_CHECKED_ELSEWHERE = {
    "minutes": "tests/test_end_to_end.py",
    "stories": "tests/test_golden_stories.py",
}


def test_every_expected_section_has_a_check(scenario: dict[str, Any]) -> None:
    unchecked = set(scenario["expected"]) - set(SECTION_CHECKS) - set(SECTIONS_CHECKED_ELSEWHERE)
    assert unchecked == set()


@pytest.mark.parametrize("section", sorted(SECTION_CHECKS))
def test_marts_match_the_golden_section(
    warehouse: Path, scenario: dict[str, Any], section: str
) -> None:
    SECTION_CHECKS[section](warehouse, scenario["expected"][section])


def test_every_view_of_the_scenario_is_one_row(warehouse: Path, scenario: dict[str, Any]) -> None:
    sessions = {
        event["session_id"]
        for event in scenario["events_in_delivery_order"]
        if event.get("session_id")
    }
    rows = query(warehouse, "select session_id from main.playback_sessions")
    assert sorted(row["session_id"] for row in rows) == sorted(sessions)
