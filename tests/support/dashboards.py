"""Builders for the dashboard tests: a data directory whose published warehouse is the golden
scenario's real dbt build, an empty one, and a runner that opens one page through its URL.

The golden warehouse is built once per test session by the real API, pipeline and dbt
(`golden.shared_golden_warehouse`); its data directory also holds the lake the pipeline
committed, which the Live now page reads.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from marquee.layout import DataLayout
from marquee.settings import get_settings
from tests.support.golden import shared_golden_warehouse
from tests.support.known_rows import KNOWN_ROWS, write_serving_db

APP_SCRIPT = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
RUN_TIMEOUT_S = 60


def golden_data_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The golden scenario and the data directory whose serving.duckdb is its dbt build."""
    scenario, dbt_db = shared_golden_warehouse(lambda: tmp_path_factory.mktemp("golden"))
    data_dir = dbt_db.parent.parent
    layout = DataLayout(data_dir)
    if not layout.serving_db.exists():
        shutil.copyfile(dbt_db, layout.serving_db)
    return scenario, data_dir


def use_data_dir(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[Path]:
    """Point the dashboards at data_dir for one test, with fresh settings and caches."""
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    st.cache_data.clear()
    yield data_dir
    get_settings.cache_clear()
    st.cache_data.clear()


def open_page(url_path: str, query_params: Mapping[str, str | list[str]] | None = None) -> AppTest:
    """Run the whole app on the page at `/url_path?query_params`, as a browser would open it,
    and fail on any exception the page raised."""
    from dashboards.navigation import page_path

    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    for name, value in (query_params or {}).items():
        at.query_params[name] = value
    # AppTest resolves a page registered by st.navigation only after a first run
    # (AppTest.switch_page's docstring); before it, the default page would run instead.
    at.run()
    at.switch_page(page_path(url_path))
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """The st.metric labels and values shown, in the main area."""
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest, kind: str) -> str:
    """The values of every element of one kind (`"caption"`, `"info"`, ...), joined by spaces."""
    return " ".join(str(element.value) for element in getattr(at, kind))


def table(at: AppTest, first_column: str) -> pd.DataFrame:
    """The first dataframe shown whose first column has that label."""
    for frame in at.dataframe:
        if list(frame.value.columns)[:1] == [first_column]:
            return frame.value
    raise AssertionError(f"no table starting with {first_column!r}")


def warehouse_copy(golden: tuple[dict[str, Any], Path], tmp_path: Path, *sql: str) -> Path:
    """A data directory whose serving.duckdb is the golden one changed by `sql`."""
    layout = DataLayout(tmp_path).ensure()
    shutil.copyfile(DataLayout(golden[1]).serving_db, layout.serving_db)
    with duckdb.connect(str(layout.serving_db)) as con:
        for statement in sql:
            con.execute(statement)
    return tmp_path


def warehouse_of_known_rows(data_dir: Path) -> Path:
    """Publish under data_dir a warehouse with only the content and creator-day marts of
    known_rows' rows (creator names added: the sidebar lists creators by name), for a page
    to name the marts it lacks. Returns serving.duckdb."""
    serving = write_serving_db(data_dir, KNOWN_ROWS)
    with duckdb.connect(str(serving)) as connection:
        connection.execute(
            "alter table main.creator_daily_performance add column creator_name varchar"
        )
    return serving
