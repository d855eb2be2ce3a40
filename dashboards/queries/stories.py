"""Queries of the Stories page (and the story part of the Content page), over `main.stories`
(one row per story, its whole life: stories expire within a day) and
`main.int_story_reactions` (one row per reaction to a story, judged valid or invalid with the
reasons).

A story belongs to the period of the UTC day it was first viewed (the day it was published
when nobody viewed it). Rates over several stories are recomputed from the summed counts with
the definitions of METRICS.md, never averaged: completion and reaction rates over reach,
navigation rates over impressions, story-to-live conversion over the reach of the stories that
announce a live stream. The stories mart has no platform or country.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data
from dashboards.filters import twice

FUNNEL_STEPS = {
    "reach": ("Reach", "story_reach"),
    "completed_viewers": ("Completed viewers", "story_completed_viewers"),
    "reached_valid_reactors": ("Viewers with a valid reaction", "reached_valid_reactors"),
    "converted_viewers": ("Converted to live", "converted_viewers"),
}
"""A story's funnel in order, each step a count of viewers: column -> (label, docs block).
The Stories, Content and Creator pages all draw it from here."""

MAX_STORIES = 500
"""The story table lists the stories with the most reach; the totals count every story."""

TOTALS_SQL = """
select
    grouping(creator_id) = 1 as is_total,
    creator_id,
    coalesce(max(creator_name), creator_id) as creator_name,
    count(*)::bigint as stories,
    sum(reach)::bigint as reach,
    sum(impressions)::bigint as impressions,
    sum(completed_viewers)::bigint as completed_viewers,
    sum(reached_valid_reactors)::bigint as reached_valid_reactors,
    sum(converted_viewers)::bigint as converted_viewers,
    sum(reactions)::bigint as reactions,
    sum(valid_reactions)::bigint as valid_reactions,
    sum(invalid_reactions)::bigint as invalid_reactions,
    100.0 * sum(completed_viewers) / nullif(sum(reach), 0) as completion_rate_pct,
    100.0 * sum(reached_valid_reactors) / nullif(sum(reach), 0) as reaction_rate_pct,
    100.0 * sum(converted_viewers) filter (where announces_live_id is not null)
        / nullif(sum(reach) filter (where announces_live_id is not null), 0)
        as story_to_live_conversion_pct,
    100.0 * sum(tap_forwards) / nullif(sum(impressions), 0) as tap_forward_rate_pct,
    100.0 * sum(tap_backs) / nullif(sum(impressions), 0) as tap_back_rate_pct,
    100.0 * sum(tap_exits) / nullif(sum(impressions), 0) as exit_rate_pct
from main.stories
where
    coalesce(first_viewed_date, cast(published_at as date)) between ? and ?
    and (? is null or creator_id = ?)
group by grouping sets ((creator_id), ())
order by is_total desc, reach desc nulls last, creator_id
"""
"""The period's totals (the row with is_total) and one row per creator, most reach first."""

TOTAL_COLUMNS = (
    "is_total",
    "creator_id",
    "creator_name",
    "stories",
    "reach",
    "impressions",
    "completed_viewers",
    "reached_valid_reactors",
    "converted_viewers",
    "reactions",
    "valid_reactions",
    "invalid_reactions",
    "completion_rate_pct",
    "reaction_rate_pct",
    "story_to_live_conversion_pct",
    "tap_forward_rate_pct",
    "tap_back_rate_pct",
    "exit_rate_pct",
)

STORY_SELECT = """
select
    story_id,
    coalesce(content_title, story_id) as story_title,
    creator_id,
    coalesce(creator_name, creator_id) as creator_name,
    published_at,
    expires_at,
    deleted_at,
    announces_live_id,
    first_viewed_date,
    reach,
    impressions,
    completed_viewers,
    reached_valid_reactors,
    converted_viewers,
    reactions,
    valid_reactions,
    invalid_reactions,
    completion_rate_pct,
    reaction_rate_pct,
    story_to_live_conversion_pct,
    tap_forward_rate_pct,
    tap_back_rate_pct,
    exit_rate_pct
"""
"""The columns of one story, as the story table and the one-story query show them (constant
text: the queries below are built from constants only)."""

STORIES_SQL = (
    """
with period_stories as (
    select *
    from main.stories
    where
        coalesce(first_viewed_date, cast(published_at as date)) between ? and ?
        and (? is null or creator_id = ?)
        and (? is null or story_id = ?)
    order by reach desc nulls last, story_id
    limit ?
)

"""
    + STORY_SELECT
    + """
from period_stories
order by reach desc nulls last, story_id
"""
)

STORY_COLUMNS = (
    "story_id",
    "story_title",
    "creator_id",
    "creator_name",
    "published_at",
    "expires_at",
    "deleted_at",
    "announces_live_id",
    "first_viewed_date",
    "reach",
    "impressions",
    "completed_viewers",
    "reached_valid_reactors",
    "converted_viewers",
    "reactions",
    "valid_reactions",
    "invalid_reactions",
    "completion_rate_pct",
    "reaction_rate_pct",
    "story_to_live_conversion_pct",
    "tap_forward_rate_pct",
    "tap_back_rate_pct",
    "exit_rate_pct",
)

STORY_SQL = (
    STORY_SELECT
    + """
from main.stories
where story_id = ?
"""
)

REASONS_SQL = """
select
    r.story_id,
    count(*)::bigint as reactions,
    count(*) filter (where r.is_valid)::bigint as valid,
    count(*) filter (where not r.is_valid)::bigint as invalid,
    count(*) filter (where r.is_after_expiry)::bigint as after_expiry,
    count(*) filter (where r.is_after_deletion)::bigint as after_deletion,
    count(*) filter (where r.is_repeat)::bigint as repeats
from main.int_story_reactions as r
inner join main.stories as s on s.story_id = r.story_id
where
    coalesce(s.first_viewed_date, cast(s.published_at as date)) between ? and ?
    and (? is null or s.creator_id = ?)
    and (? is null or s.story_id = ?)
group by r.story_id
"""
"""Reactions per story of the period: valid, invalid, and invalid by reason."""

REASON_COLUMNS = (
    "story_id",
    "reactions",
    "valid",
    "invalid",
    "after_expiry",
    "after_deletion",
    "repeats",
)

REASON_LABELS = {
    "after_expiry": "After the story expired",
    "after_deletion": "After the story was deleted",
    "repeats": "Repeat by the same viewer",
}
"""The reasons a reaction is invalid (int_story_reactions); one reaction can have several."""

REACTIONS_TABLE = "int_story_reactions"


def totals(start: date, end: date, creator_id: str | None) -> pd.DataFrame:
    """The period's totals (is_total) and one row per creator with stories in the period."""
    return data.query(TOTALS_SQL, [start, end, *twice([creator_id])], columns=TOTAL_COLUMNS)


def stories(
    start: date, end: date, creator_id: str | None, story_id: str | None = None
) -> pd.DataFrame:
    """The MAX_STORIES stories of the period with the most reach: funnel and rates."""
    return data.query(
        STORIES_SQL,
        [start, end, *twice([creator_id, story_id]), MAX_STORIES],
        columns=STORY_COLUMNS,
    )


def story(story_id: str) -> pd.DataFrame:
    """The stories-mart row of one story (its whole life), or no row."""
    return data.query(STORY_SQL, [story_id], columns=STORY_COLUMNS)


def has_reasons() -> bool:
    """Whether the warehouse publishes int_story_reactions, where the reasons are."""
    return data.table_exists(REACTIONS_TABLE)


def reasons(
    start: date, end: date, creator_id: str | None, story_id: str | None = None
) -> pd.DataFrame:
    """Reactions per story of the period (or of one story): valid, invalid, by reason."""
    return data.query(
        REASONS_SQL, [start, end, *twice([creator_id, story_id])], columns=REASON_COLUMNS
    )
