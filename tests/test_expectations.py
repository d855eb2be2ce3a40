"""The content_daily expectation suite, run through the real checkpoint on small DuckDB files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from expectations import CheckpointSummary, run_mart_checkpoint

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 2, 6)


def mart_row(content_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "day": DAY,
        "content_id": content_id,
        "creator_id": f"creator-of-{content_id}",
        "content_type": "vod",
        "play_requests": 3,
        "starts": 2,
        "fatal_errors": 0,
        "played_ms": 50_000,
        "stalled_ms": 500,
        "stall_count": 1,
        "seek_ms": 200,
        "startup_ms_sum": 1_500,
        "watched_ms": 52_200,
        "last_minute_start_at": dt.datetime(2026, 2, 6, 23, 59),
        "built_at_ms": 1_770_422_400_000,
    }
    row.update(values)
    return row


def write_mart(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(rows)
    with duckdb.connect(str(path)) as connection:
        connection.register("rows", frame)
        connection.execute(
            "create table main.content_daily as "
            "select * replace (cast(day as date) as day) from rows"
        )
    return path


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "gx"


def test_checkpoint_passes_on_good_mart(tmp_path: Path, results_dir: Path) -> None:
    db = write_mart(
        tmp_path / "good.duckdb",
        [
            mart_row("c1"),
            mart_row("c2", content_type="live"),
            mart_row("c1", day=DAY.replace(day=7)),
        ],
    )

    summary = run_mart_checkpoint(db, results_dir=results_dir)

    assert summary.success, summary.failed_expectation_names
    assert summary.failed_expectations == 0
    assert summary.evaluated_expectations == 28
    assert summary.results_path == results_dir / "content_daily" / "latest.json"
    written = json.loads(summary.results_path.read_text())
    assert written["success"] is True
    assert not (results_dir / "content_daily" / "failures").exists()


def test_checkpoint_passes_on_empty_mart(tmp_path: Path, results_dir: Path) -> None:
    db = write_mart(tmp_path / "empty.duckdb", [mart_row("c1")])
    with duckdb.connect(str(db)) as connection:
        connection.execute("delete from main.content_daily")

    assert run_mart_checkpoint(db, results_dir=results_dir).success


def test_checkpoint_fails_and_names_each_broken_rule(tmp_path: Path, results_dir: Path) -> None:
    db = write_mart(
        tmp_path / "bad.duckdb",
        [
            mart_row("c1"),
            mart_row("c1"),  # duplicate (day, content_id)
            mart_row("c2", content_type="podcast"),
            mart_row("c3", played_ms=-1, watched_ms=2_199),
            mart_row("c4", watched_ms=10),  # less than played_ms
            mart_row("c5", creator_id=None),
        ],
    )

    summary = run_mart_checkpoint(db, results_dir=results_dir)

    assert isinstance(summary, CheckpointSummary)
    assert not summary.success
    assert set(summary.failed_expectation_names) == {
        "expect_compound_columns_to_be_unique(day, content_id)",
        "expect_column_values_to_be_in_set(content_type)",
        "expect_column_values_to_be_between(played_ms)",
        "expect_column_pair_values_a_to_be_greater_than_b(watched_ms, played_ms)",
        "expect_column_values_to_not_be_null(creator_id)",
    }
    assert summary.failed_expectations == 5
    assert summary.evaluated_expectations == 28
    written = json.loads((results_dir / "content_daily" / "latest.json").read_text())
    assert written["success"] is False
    assert set(written["failed_expectations"]) == set(summary.failed_expectation_names)
    assert len(list((results_dir / "content_daily" / "failures").glob("*.json"))) == 1


def test_checkpoint_fails_when_a_column_is_missing(tmp_path: Path, results_dir: Path) -> None:
    rows = [mart_row("c1")]
    for row in rows:
        del row["watched_ms"]
    db = write_mart(tmp_path / "missing.duckdb", rows)

    summary = run_mart_checkpoint(db, results_dir=results_dir)

    assert not summary.success
    assert "expect_table_columns_to_match_set" in summary.failed_expectation_names


def test_checkpoint_fails_on_a_views_column_left_from_before_play_requests(
    tmp_path: Path, results_dir: Path
) -> None:
    """content_daily counts play requests, not views (playback sessions). A warehouse built
    before the rename and upgraded without `--full-refresh` keeps the old `views` column
    beside `play_requests`, null in new rows; the checkpoint says so."""
    db = write_mart(tmp_path / "stale.duckdb", [mart_row("c1", views=None)])

    summary = run_mart_checkpoint(db, results_dir=results_dir)

    assert not summary.success
    assert summary.failed_expectation_names == ("expect_table_columns_to_match_set",)
