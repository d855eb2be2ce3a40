"""Rows of the lake's tables for dbt tests, with every column of the schema filled in."""

from __future__ import annotations

from typing import Any


def view_partial(session_id: str, first_ms: int, last_ms: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "app_id": "app",
        "session_id": session_id,
        "first_event_ms": first_ms,
        "last_event_ms": last_ms,
        "play_requested_ms": None,
        "content_id": "c1",
        "creator_id": "u1",
        "content_type": "vod",
        "platform": "web",
        "country": "DE",
        "viewer_key": f"viewer-of-{session_id}",
        "app_version": "unknown",
        "os": "unknown",
        "device": "unknown",
        "started": False,
        "started_at_ms": None,
        "startup_ms": None,
        "played_ms": 0,
        "stalled_ms": 0,
        "stall_count": 0,
        "seek_ms": 0,
        "failed": False,
        "ended": False,
        "ended_at_ms": None,
        "end_reason": None,
        "max_playhead_ms": None,
        "bitrate_weighted": 0,
        "event_count": 1,
    }
    row.update(values)
    return row


def ad_play(
    session_id: str, ad_id: str, first_event_ms: int, impression: bool, **values: Any
) -> dict[str, Any]:
    """A partial ad play (marquee.lake.AD_PLAYS_SCHEMA) of break `b-<session>`; with
    `impression`, its impression is its first event."""
    row: dict[str, Any] = {
        "app_id": "app",
        "session_id": session_id,
        "ad_break_id": f"b-{session_id}",
        "ad_id": ad_id,
        "content_id": "c1",
        "creator_id": "u1",
        "content_type": "vod",
        "position": "pre",
        "ad_format": None,
        "first_event_ms": first_event_ms,
        "impression_ms": first_event_ms if impression else None,
        "impressions": 1 if impression else 0,
        "reached_q25": False,
        "reached_q50": False,
        "reached_q75": False,
        "reached_q100": False,
        "skipped": False,
        "clicked": False,
    }
    row.update(values)
    return row
