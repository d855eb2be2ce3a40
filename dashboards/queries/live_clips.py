"""SQL for clips cut from live sessions (`main.live_session_clips`, the catalogue's
`source_live_id`), shown on the Creator and Content pages."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data

TABLE = "live_session_clips"

CLIP_COLUMNS = (
    "live_id",
    "title",
    "stream_started_at",
    "stream_date",
    "clip_window_ends_at",
    "clips",
    "clips_viewed",
    "clip_views",
    "clip_unique_viewers",
    "clip_watch_time_hours",
)

CREATOR_SQL = """
select
    live_id,
    coalesce(content_title, live_id) as title,
    stream_started_at,
    cast(stream_started_at as date) as stream_date,
    clip_window_ends_at,
    clips,
    clips_viewed,
    clip_views,
    clip_unique_viewers,
    clip_watch_time_hours
from main.live_session_clips
where creator_id = ? and cast(stream_started_at as date) between ? and ? and clips > 0
order by stream_started_at desc, live_id
"""
"""Params: creator, start, end. The creator's live sessions of the period with clips."""

LIVE_SQL = """
select
    live_id,
    coalesce(content_title, live_id) as title,
    stream_started_at,
    cast(stream_started_at as date) as stream_date,
    clip_window_ends_at,
    clips,
    clips_viewed,
    clip_views,
    clip_unique_viewers,
    clip_watch_time_hours
from main.live_session_clips
where live_id = ?
"""
"""Params: live id."""

CLIPS_OF_LIVE_SQL = """
select content_id, coalesce(title, content_id) as title
from main.stg_catalog__content
where source_live_id = ? and content_type = 'clip'
order by published_at nulls last, content_id
"""
"""Params: live id. The catalogue's clips cut from the live, to link to."""

SOURCE_SQL = """
select clip.source_live_id, coalesce(live.title, clip.source_live_id) as live_title
from main.stg_catalog__content as clip
left join main.stg_catalog__content as live on clip.source_live_id = live.content_id
where clip.content_id = ? and clip.source_live_id is not null
"""
"""Params: clip id. The live the clip was cut from, if the catalogue names one."""


def available() -> bool:
    """Whether the published warehouse has the mart (older builds do not)."""
    return data.table_exists(TABLE)


def creator_clips(creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(CREATOR_SQL, [creator_id, start, end], columns=CLIP_COLUMNS)


def live_clips(live_id: str) -> pd.DataFrame:
    return data.query(LIVE_SQL, [live_id], columns=CLIP_COLUMNS)


def clips_of_live(live_id: str) -> pd.DataFrame:
    return data.query(CLIPS_OF_LIVE_SQL, [live_id], columns=["content_id", "title"])


def clip_source(clip_id: str) -> pd.DataFrame:
    return data.query(SOURCE_SQL, [clip_id], columns=["source_live_id", "live_title"])
