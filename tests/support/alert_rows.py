"""Minute-level rows for the alert tests: partial views and minute rows as the evaluator
reads them from the lake, built in memory with times relative to now."""

from __future__ import annotations

import itertools
import time
from typing import Any

import polars as pl

from alerts.metrics import COUNTED_EVENTS, MINUTE_MS, merge_views

NOW_MS = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS + 30_000
"""Half past the current minute, so the minute in progress and the one before are clear."""

_ids = itertools.count()


def view(
    content: str,
    start_ms: int,
    *,
    failed: bool = False,
    started: bool = True,
    platform: str = "web",
    creator: str = "cr_1",
    stalled_ms: int = 0,
    startup_ms: int = 500,
    session: str | None = None,
) -> dict[str, Any]:
    """One partial row of `view_summaries` as the alerts read it."""
    return {
        "app_id": "app",
        "session_id": session or f"s{next(_ids)}",
        "first_event_ms": start_ms,
        "last_event_ms": start_ms + 5_000,
        "play_requested_ms": start_ms,
        "content_id": content,
        "creator_id": creator,
        "content_type": "live",
        "platform": platform,
        "started": started,
        "started_at_ms": start_ms + startup_ms if started else None,
        "startup_ms": startup_ms if started else None,
        "played_ms": 4_000,
        "stalled_ms": stalled_ms,
        "seek_ms": 0,
        "failed": failed,
    }


def views(*rows: dict[str, Any]) -> pl.DataFrame:
    return merge_views(pl.DataFrame(list(rows), infer_schema_length=None))


def burst(content: str, count: int, failed: int, start_ms: int = NOW_MS - 20_000) -> list[dict]:
    return [view(content, start_ms + i, failed=i < failed) for i in range(count)]


def no_minutes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "epoch_minute": pl.Int64,
            "content_id": pl.String,
            "creator_id": pl.String,
            "content_type": pl.String,
            "platform": pl.String,
            "played_ms": pl.Int64,
            "stalled_ms": pl.Int64,
            **dict.fromkeys(COUNTED_EVENTS, pl.Int64),
        }
    )


def minute_rows(content: str, viewers_by_minute: dict[int, float]) -> pl.DataFrame:
    """Minute rows of a live stream with the given average concurrent viewers per minute."""
    rows = [
        {
            "epoch_minute": minute,
            "content_id": content,
            "creator_id": "cr_1",
            "content_type": "live",
            "platform": "web",
            "played_ms": int(viewers * MINUTE_MS),
            "stalled_ms": 0,
            **dict.fromkeys(COUNTED_EVENTS, 0),
            "attempts": int(viewers),
        }
        for minute, viewers in viewers_by_minute.items()
    ]
    return pl.concat([no_minutes(), pl.DataFrame(rows)], how="diagonal_relaxed")
