"""SQL for live latency (`main.live_sessions`, `main.live_minute_latency`): the Content page
of a live stream shows its whole-session p50/p95 and the per-minute percentiles."""

from __future__ import annotations

import pandas as pd

from dashboards import data

TABLE = "live_minute_latency"

SESSION_SQL = """
select latency_heartbeats, live_latency_p50_ms, live_latency_p95_ms
from main.live_sessions
where live_id = ?
"""
SESSION_COLUMNS = ("latency_heartbeats", "live_latency_p50_ms", "live_latency_p95_ms")

MINUTES_SQL = """
select epoch_minute, minute_start_at, latency_heartbeats, live_latency_p50_ms,
    live_latency_p95_ms
from main.live_minute_latency
where live_id = ?
order by epoch_minute
"""
MINUTE_COLUMNS = (
    "epoch_minute",
    "minute_start_at",
    "latency_heartbeats",
    "live_latency_p50_ms",
    "live_latency_p95_ms",
)


def available() -> bool:
    """Whether the published warehouse has the mart (older builds do not)."""
    return data.table_exists(TABLE)


def session_latency(live_id: str) -> pd.DataFrame:
    """One row (or none): the stream's heartbeats with a latency, and its p50 and p95."""
    return data.query(SESSION_SQL, [live_id], columns=SESSION_COLUMNS)


def minute_latency(live_id: str) -> pd.DataFrame:
    """Per UTC minute with a latency: p50 and p95 of that minute's heartbeats."""
    return data.query(MINUTES_SQL, [live_id], columns=MINUTE_COLUMNS)
