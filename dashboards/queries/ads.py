"""Queries of the Ads page, over `main.ad_placement_daily_performance`.

That mart is one row per UTC day, content, ad, break position and format, and carries the
content's creator and type: it is the one ad mart every filter of the page applies to, and
summing its counts per ad, position, creator or format gives what `ad_daily_performance`,
`ad_position_daily_performance` and `creator_daily_ad_performance` hold (one dbt macro,
`ad_rollup`, builds all four). Rates are recomputed from the summed counts with the marts'
definitions (`100 * plays / impressions`), never averaged.

The grouping is a parameter (`$5`, one of GROUPINGS), chosen in SQL by a `case`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data
from dashboards.filters import Filters

GROUPINGS = ("total", "ad", "position", "creator", "format")

COLUMNS = (
    "group_key",
    "ad_formats",
    "ad_impressions",
    "ad_q25",
    "ad_q50",
    "ad_q75",
    "ad_q100",
    "ad_skips",
    "ad_clicks",
    "ad_plays_without_impression",
    "ad_quartiles_without_impression",
    "q25_reach_pct",
    "q50_reach_pct",
    "q75_reach_pct",
    "q100_reach_pct",
    "ad_completion_rate_pct",
    "skip_rate_pct",
    "ctr_pct",
)

# $1, $2: first and last UTC day; $3: creator; $4: content type (null: all); $5: grouping.
PERFORMANCE_SQL = """
with grouped as (
    select
        case $5
            when 'ad' then ad_id
            when 'position' then position
            when 'creator' then creator_id
            when 'format' then ad_format
            else 'all'
        end as group_key,
        string_agg(distinct ad_format, ', ' order by ad_format) as ad_formats,
        sum(ad_impressions)::bigint as ad_impressions,
        sum(ad_q25)::bigint as ad_q25,
        sum(ad_q50)::bigint as ad_q50,
        sum(ad_q75)::bigint as ad_q75,
        sum(ad_q100)::bigint as ad_q100,
        sum(ad_skips)::bigint as ad_skips,
        sum(ad_clicks)::bigint as ad_clicks,
        sum(ad_plays_without_impression)::bigint as ad_plays_without_impression,
        sum(ad_quartiles_without_impression)::bigint as ad_quartiles_without_impression
    from main.ad_placement_daily_performance
    where day between $1 and $2
        and ($3 is null or creator_id = $3)
        and ($4 is null or content_type = $4)
    group by group_key
)

select
    *,
    100.0 * ad_q25 / nullif(ad_impressions, 0) as q25_reach_pct,
    100.0 * ad_q50 / nullif(ad_impressions, 0) as q50_reach_pct,
    100.0 * ad_q75 / nullif(ad_impressions, 0) as q75_reach_pct,
    100.0 * ad_q100 / nullif(ad_impressions, 0) as q100_reach_pct,
    100.0 * ad_q100 / nullif(ad_impressions, 0) as ad_completion_rate_pct,
    100.0 * ad_skips / nullif(ad_impressions, 0) as skip_rate_pct,
    100.0 * ad_clicks / nullif(ad_impressions, 0) as ctr_pct
from grouped
where ad_impressions > 0 or ad_plays_without_impression > 0
order by ad_impressions desc, ad_plays_without_impression desc, group_key
"""


def performance(filters: Filters, start: date, end: date, grouping: str) -> pd.DataFrame:
    """Ad plays in [start, end] summed per `grouping` (one row for `total`), with their
    quartile reach, completion, skip and click-through rates; most impressions first."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown ad grouping {grouping!r}")
    params = [start, end, filters.creator_id, filters.content_type, grouping]
    return data.query(PERFORMANCE_SQL, params, columns=COLUMNS)
