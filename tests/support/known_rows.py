"""Known serving-warehouse rows for the dashboard tests, and a writer that publishes them.

The rows are small enough to total by hand; the expected numbers below are written out rather
than computed, so a wrong aggregation in the dashboards cannot agree with itself.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from tests.support import REPO_ROOT

APP_SCRIPT = REPO_ROOT / "dashboards" / "streamlit_app.py"
CREATORS_PAGE = REPO_ROOT / "dashboards" / "app_pages" / "creators.py"

CONTENT_DAILY_DDL = """
create table main.content_daily_performance (
    day date not null,
    content_id varchar not null,
    creator_id varchar not null,
    content_type varchar not null,
    play_requests bigint not null,
    starts bigint not null,
    fatal_errors bigint not null,
    played_ms bigint not null,
    stalled_ms bigint not null,
    stall_count bigint not null,
    seek_ms bigint not null,
    startup_ms_sum bigint not null,
    watched_ms bigint not null,
    last_minute_start_at timestamp not null
)
"""

CREATOR_DAILY_PERFORMANCE_DDL = """
create table main.creator_daily_performance (
    creator_id varchar not null,
    day date not null,
    views bigint not null,
    started_views bigint not null,
    failed_views bigint not null,
    watch_time_hours double not null
)
"""
"""The columns of the mart the Creators page reads (dbt builds many more)."""

COLUMNS = (
    "day",
    "content_id",
    "creator_id",
    "content_type",
    "play_requests",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "startup_ms_sum",
    "watched_ms",
    "last_minute_start_at",
)

HOUR_MS = 3_600_000
NEWEST_MINUTE = datetime(2025, 3, 10, 14, 37)
PLAY_REQUESTS_OVER_VIEWS = 7
"""Each content-day's play requests exceed its views by this much, so a page that showed play
requests (`content_daily_performance`) as views would show other numbers than the ones expected
below."""


def row(
    day: date,
    content_id: str,
    creator_id: str,
    *,
    views: int,
    watched_ms: int,
    started_views: int,
    failed_views: int,
    content_type: str = "vod",
    last_minute_start_at: datetime = datetime(2025, 3, 1, 12, 0),
) -> dict[str, Any]:
    """A content-day: its `content_daily_performance` row plus the views it adds to its creator's
    day."""
    return {
        "day": day,
        "content_id": content_id,
        "creator_id": creator_id,
        "content_type": content_type,
        "views": views,
        "started_views": started_views,
        "failed_views": failed_views,
        "play_requests": views + PLAY_REQUESTS_OVER_VIEWS,
        "starts": started_views + 1,
        "fatal_errors": failed_views + 1,
        "played_ms": watched_ms // 2,
        "stalled_ms": 1_000,
        "stall_count": 1,
        "seek_ms": 500,
        "startup_ms_sum": 700 * started_views,
        "watched_ms": watched_ms,
        "last_minute_start_at": last_minute_start_at,
    }


# The newest day is 2025-03-10, so the default range is 2025-03-04 .. 2025-03-10 and the row of
# 2025-03-01 only counts once the whole range is picked.
KNOWN_ROWS = [
    row(
        date(2025, 3, 10),
        "vid_a1",
        "cr_alpha",
        views=120,
        watched_ms=2 * HOUR_MS,
        started_views=110,
        failed_views=3,
        last_minute_start_at=NEWEST_MINUTE,
    ),
    row(
        date(2025, 3, 9),
        "clip_a2",
        "cr_alpha",
        content_type="clip",
        views=30,
        watched_ms=HOUR_MS // 2,
        started_views=29,
        failed_views=1,
    ),
    row(
        date(2025, 3, 8),
        "live_b1",
        "cr_bravo",
        content_type="live",
        views=1_200,
        watched_ms=4 * HOUR_MS,
        started_views=1_190,
        failed_views=10,
    ),
    row(
        date(2025, 3, 1),
        "live_b0",
        "cr_bravo",
        content_type="live",
        views=1_000,
        watched_ms=HOUR_MS,
        started_views=990,
        failed_views=5,
    ),
    row(
        date(2025, 3, 10),
        "story_c1",
        "cr_charlie",
        content_type="story",
        views=5,
        watched_ms=HOUR_MS // 4,
        started_views=5,
        failed_views=0,
    ),
]

# Creator totals over the default range, most views first:
# (creator_id, views, watch_hours, started_views, failed_views)
EXPECTED_DEFAULT_RANGE = [
    ("cr_bravo", 1_200, 4.0, 1_190, 10),
    ("cr_alpha", 150, 2.5, 139, 4),
    ("cr_charlie", 5, 0.25, 5, 0),
]
EXPECTED_DEFAULT_METRICS = {
    "Creators": "3",
    "Views": "1,355",
    "Watch hours": "6.75",
    "Started views": "1,334",
    "Failed views": "14",
}
# Over 2025-03-01 .. 2025-03-10 cr_bravo also has live_b0.
EXPECTED_FULL_RANGE_BRAVO = ("cr_bravo", 2_200, 5.0, 2_180, 15)
EXPECTED_FULL_METRICS_VIEWS = "2,355"


def write_serving_db(data_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """Build serving.duckdb under `data_dir` and publish it by an atomic rename, like dbt's loop.

    `rows` are content-days: each is a `content_daily_performance` row, and the content-days of a
    creator and day sum into one `creator_daily_performance` row.
    """
    serving = data_dir / "warehouse" / "serving.duckdb"
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging = serving.with_name("serving.duckdb.tmp")
    staging.unlink(missing_ok=True)
    con = duckdb.connect(str(staging))
    try:
        con.execute(CONTENT_DAILY_DDL)
        con.execute(CREATOR_DAILY_PERFORMANCE_DDL)
        if rows:
            placeholders = ", ".join("?" for _ in COLUMNS)
            con.executemany(
                f"insert into main.content_daily_performance values ({placeholders})",
                [[r[c] for c in COLUMNS] for r in rows],
            )
            creator_days: dict[tuple[str, date], list[float]] = {}
            for r in rows:
                totals = creator_days.setdefault((r["creator_id"], r["day"]), [0, 0, 0, 0.0])
                totals[0] += r["views"]
                totals[1] += r["started_views"]
                totals[2] += r["failed_views"]
                totals[3] += r["watched_ms"] / HOUR_MS
            con.executemany(
                "insert into main.creator_daily_performance values (?, ?, ?, ?, ?, ?)",
                [[*key, *totals] for key, totals in creator_days.items()],
            )
    finally:
        con.close()
    os.replace(staging, serving)
    return serving
