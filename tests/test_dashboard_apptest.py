"""AppTest checks of the dashboards against a real serving.duckdb in a temporary data directory.

Each test runs the whole app (`streamlit_app.py`, whose default page is Creators) in-process, so
navigation, the data module, its cache and the DuckDB queries are all exercised.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards import components
from marquee.settings import get_settings
from tests.dashboard_fixtures import (
    APP_SCRIPT,
    EXPECTED_DEFAULT_METRICS,
    EXPECTED_DEFAULT_RANGE,
    EXPECTED_FULL_METRICS_VIEWS,
    EXPECTED_FULL_RANGE_BRAVO,
    KNOWN_ROWS,
    row,
    write_serving_db,
)

RUN_TIMEOUT_S = 60
TABLE_COLUMNS = ["creator_id", "views", "watch_hours", "started_views", "failed_views"]


@pytest.fixture
def serving_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    st.cache_data.clear()
    yield tmp_path
    get_settings.cache_clear()
    st.cache_data.clear()


def run_app() -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table_rows(at: AppTest) -> list[tuple[object, ...]]:
    (table,) = at.dataframe
    frame = table.value
    assert list(frame.columns) == TABLE_COLUMNS
    return [tuple(r) for r in frame.itertuples(index=False)]


def chart_frame(at: AppTest) -> pd.DataFrame:
    (chart,) = at.get("vega_lite_chart")
    (dataset,) = chart.proto.datasets
    return pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_pandas()


def test_creators_page_shows_totals_for_the_default_range(serving_data_dir: Path) -> None:
    write_serving_db(serving_data_dir, KNOWN_ROWS)

    at = run_app()

    assert [t.value for t in at.title] == ["Creators"]
    (range_input,) = at.sidebar.date_input
    assert range_input.value == (date(2025, 3, 4), date(2025, 3, 10))
    assert metrics(at) == EXPECTED_DEFAULT_METRICS
    assert table_rows(at) == EXPECTED_DEFAULT_RANGE
    chart = chart_frame(at)
    assert list(chart["creator_id"]) == ["cr_bravo", "cr_alpha", "cr_charlie"]
    assert list(chart["views"]) == [1_200, 150, 5]
    (caption,) = at.caption
    assert "Newest data minute: 2025-03-10 14:37 UTC" in caption.value
    assert not at.info


def test_picking_the_whole_range_includes_older_days(serving_data_dir: Path) -> None:
    write_serving_db(serving_data_dir, KNOWN_ROWS)
    at = run_app()

    at.sidebar.date_input[0].set_value((date(2025, 3, 1), date(2025, 3, 10))).run()

    assert not at.exception
    assert metrics(at)["Views"] == EXPECTED_FULL_METRICS_VIEWS
    assert table_rows(at)[0] == EXPECTED_FULL_RANGE_BRAVO


def test_a_range_without_views_says_so(serving_data_dir: Path) -> None:
    write_serving_db(serving_data_dir, KNOWN_ROWS)
    at = run_app()

    at.sidebar.date_input[0].set_value((date(2025, 3, 2), date(2025, 3, 7))).run()

    assert not at.exception
    assert [i.value for i in at.info] == ["No views between 2025-03-02 and 2025-03-07."]
    assert not at.metric
    assert not at.dataframe


def test_chart_shows_the_top_20_creators_and_the_table_all(serving_data_dir: Path) -> None:
    rows = [
        row(
            date(2025, 3, 10),
            f"vid_{n:02d}",
            f"cr_{n:02d}",
            views=100 + n,
            watched_ms=60_000,
            started_views=1,
            failed_views=0,
        )
        for n in range(25)
    ]
    write_serving_db(serving_data_dir, rows)

    at = run_app()

    chart = chart_frame(at)
    assert list(chart["creator_id"]) == [f"cr_{n:02d}" for n in range(24, 4, -1)]
    assert len(table_rows(at)) == 25
    assert metrics(at)["Creators"] == "25"


def test_a_newly_published_warehouse_is_read_on_the_next_run(serving_data_dir: Path) -> None:
    write_serving_db(serving_data_dir, KNOWN_ROWS)
    at = run_app()
    assert metrics(at)["Views"] == "1,355"

    extra = row(
        date(2025, 3, 10),
        "vid_d1",
        "cr_delta",
        views=45,
        watched_ms=0,
        started_views=40,
        failed_views=2,
    )
    write_serving_db(serving_data_dir, [*KNOWN_ROWS, extra])
    at.run()

    assert metrics(at)["Views"] == "1,400"
    assert ("cr_delta", 45, 0.0, 40, 2) in table_rows(at)


def test_empty_state_when_serving_db_does_not_exist(serving_data_dir: Path) -> None:
    at = run_app()

    (info,) = at.info
    assert "appears after the first pipeline run and dbt build (about a minute" in info.value
    assert not at.metric
    assert not at.dataframe
    assert not (serving_data_dir / "warehouse" / "serving.duckdb").exists(), (
        "dashboard must not create it"
    )


def test_empty_state_when_serving_db_has_no_rows(serving_data_dir: Path) -> None:
    write_serving_db(serving_data_dir, [])

    at = run_app()

    (info,) = at.info
    assert "appears after the first pipeline run and dbt build" in info.value
    assert not at.metric


def test_warning_when_serving_db_lacks_the_table(serving_data_dir: Path) -> None:

    serving = serving_data_dir / "warehouse" / "serving.duckdb"
    serving.parent.mkdir(parents=True)
    duckdb.connect(str(serving)).close()

    at = run_app()

    (warning,) = at.warning
    assert "no table main.content_daily" in warning.value
    assert not at.metric


def test_warning_when_serving_db_lacks_the_creator_day_mart(serving_data_dir: Path) -> None:
    """The page reads two marts; a warehouse with only one says so rather than failing."""
    serving = write_serving_db(serving_data_dir, KNOWN_ROWS)
    with duckdb.connect(str(serving)) as connection:
        connection.execute("drop table main.creator_daily_performance")

    at = run_app()

    (warning,) = at.warning
    assert "main.creator_daily_performance" in warning.value
    assert not at.metric


def test_freshness_caption_states_the_age() -> None:
    newest = datetime(2025, 3, 10, 14, 37, tzinfo=UTC)
    now = datetime(2025, 3, 10, 16, 40, 5, tzinfo=UTC)

    caption = components.freshness_caption(newest, now=now)

    assert caption.startswith("Newest data minute: 2025-03-10 14:37 UTC (2 h 3 min ago)")
    assert components.format_age(42) == "42 s"
    assert components.format_age(3 * 86_400 + 4 * 3_600) == "3 d 4 h"
