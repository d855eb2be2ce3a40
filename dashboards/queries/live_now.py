"""Queries of the Live now page, over the newest runs the pipeline committed to the lake.

Per live stream and UTC minute (event time), from `minute_aggregates` (rows of every run
summed at their grain, as dbt merges them): play requests, starts, fatal errors, played,
stalled and seek time, startup time and chat messages; from `live_viewer_facts` the chatters;
from `tip_minute_aggregates` the tips to the stream's creator. Formulas are METRICS.md's:

- concurrent viewers of a minute = (played_ms + stalled_ms) / 60000 (`avg_concurrent_viewers`);
- playback failure % of a minute = 100 * fatal_errors / attempts (`playback_failure_pct`);
- mean startup = startup_ms_sum / starts (`startup_mean_ms`);
- rebuffer % = 100 * stalled_ms / (startup_ms_sum + played_ms + stalled_ms + seek_ms)
  (`rebuffer_pct`, over minutes);
- live latency p50 and p95 of a minute = the exact percentiles (linear interpolation, as
  every percentile) of `live_latency_ms` over the stream's heartbeats of that minute that
  carry it, from `live_latency_minute_values` (`live_latency_p50_ms`, `live_latency_p95_ms`);
- chatters of a minute = distinct viewers with a chat message in it. The lake keeps each
  viewer's first message per run (`marquee.lake.LIVE_VIEWER_FACTS`), so a viewer who chats on
  both sides of a minute boundary inside one run counts in the first minute only; at the
  demo's 2 s runs that is rare.

"On air": a live stream with player or chat activity (any play request, start, fatal error,
played, stalled or seek time, or chat message) in the ON_AIR_MINUTES minutes up to the newest
complete minute, or in the minute in progress after it. The newest complete minute is the
newest minute with data, but never the wall-clock minute still running (its rows are still
arriving): relative to the data, so a stalled pipeline shows what was on air when it stopped,
under a red freshness warning, rather than claiming nothing is.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboards import lake
from marquee.lake import (
    LIVE_LATENCY_MINUTE_VALUES,
    LIVE_VIEWER_FACTS,
    MINUTE_AGGREGATES,
    TIP_MINUTE_AGGREGATES,
)

REFRESH_S = 3
"""How often the Live now page reruns its fragment (`st.fragment(run_every=...)`): a minute
shows at most this long after the data function would return it (benchmarks/live_freshness.py
measures both)."""
ON_AIR_MINUTES = 5
WINDOW_MINUTES = 60
"""Minutes shown per stream, up to the newest minute with data (the runs read cover them)."""

EXTRACTS = {
    "live_minute_rows": lake.Extract(
        MINUTE_AGGREGATES,
        """
        select
            filename, epoch_minute, content_id, creator_id,
            sum(attempts) as attempts, sum(starts) as starts,
            sum(fatal_errors) as fatal_errors, sum(played_ms) as played_ms,
            sum(stalled_ms) as stalled_ms, sum(seek_ms) as seek_ms,
            sum(startup_ms_sum) as startup_ms_sum,
            sum(coalesce(chat_messages, 0)) as chat_messages
        from read_parquet(?, union_by_name = true, filename = true)
        where content_type = 'live'
        group by filename, epoch_minute, content_id, creator_id
        """,
    ),
    "minute_bounds": lake.Extract(
        MINUTE_AGGREGATES,
        """
        select filename, max(epoch_minute) as newest_minute
        from read_parquet(?, union_by_name = true, filename = true)
        group by filename
        """,
    ),
    "chat_facts": lake.Extract(
        LIVE_VIEWER_FACTS,
        """
        select distinct filename, live_id, viewer_key, at_ms // 60000 as epoch_minute
        from read_parquet(?, union_by_name = true, filename = true)
        where fact = 'chatted'
        """,
    ),
    "latency_rows": lake.Extract(
        LIVE_LATENCY_MINUTE_VALUES,
        """
        select filename, epoch_minute, content_id, live_latency_ms, sum(heartbeats) as heartbeats
        from read_parquet(?, union_by_name = true, filename = true)
        group by filename, epoch_minute, content_id, live_latency_ms
        """,
    ),
    "tip_rows": lake.Extract(
        TIP_MINUTE_AGGREGATES,
        """
        select filename, epoch_minute, creator_id, currency,
            sum(tips) as tips, sum(tips_amount_minor) as tips_amount_minor
        from read_parquet(?, union_by_name = true, filename = true)
        group by filename, epoch_minute, creator_id, currency
        """,
    ),
}
"""What each run file contributes (`dashboards.lake.Extract`): the live streams' minute rows
summed per file, the file's newest minute of any content, the chat facts and the tips."""

BOUNDS_SQL = """
select max(newest_minute) as newest_minute, least(max(newest_minute), ?) as complete_minute
from minute_bounds
"""
"""Params: the wall-clock minute before the running one. The newest minute with data of any
content (the freshness line), also when nothing is on air."""

LIVE_MINUTES_SQL = """
with

bounds as (
    select max(newest_minute) as newest_minute, least(max(newest_minute), ?) as complete_minute
    from minute_bounds
),

live_minutes as (
    select
        m.content_id,
        m.creator_id,
        m.epoch_minute,
        sum(m.attempts)::bigint as attempts,
        sum(m.starts)::bigint as starts,
        sum(m.fatal_errors)::bigint as fatal_errors,
        sum(m.played_ms)::bigint as played_ms,
        sum(m.stalled_ms)::bigint as stalled_ms,
        sum(m.seek_ms)::bigint as seek_ms,
        sum(m.startup_ms_sum)::bigint as startup_ms_sum,
        sum(m.chat_messages)::bigint as chat_messages
    from live_minute_rows as m, bounds as b
    where (? is null or m.creator_id = ?)
        and m.epoch_minute > b.newest_minute - ?
    group by m.content_id, m.creator_id, m.epoch_minute
),

on_air as (
    select distinct l.content_id
    from live_minutes as l, bounds as b
    where l.epoch_minute >= b.complete_minute - (? - 1)
        and l.attempts + l.starts + l.fatal_errors + l.played_ms + l.stalled_ms + l.seek_ms
            + l.chat_messages > 0
),

chatters as (
    select live_id as content_id, epoch_minute, count(distinct viewer_key) as chatters
    from chat_facts
    where live_id in (select content_id from on_air)
    group by all
),

tips as (
    select creator_id, epoch_minute, sum(tips)::bigint as tips
    from tip_rows
    group by all
),

latency as (
    select
        content_id,
        epoch_minute,
        quantile_cont(live_latency_ms, 0.5) as live_latency_p50_ms,
        quantile_cont(live_latency_ms, 0.95) as live_latency_p95_ms
    from (
        -- Each value once per heartbeat that carried it: exact percentiles.
        select content_id, epoch_minute, live_latency_ms, unnest(range(heartbeats::bigint))
        from latency_rows
        where content_id in (select content_id from on_air)
    )
    group by all
)

select
    l.content_id,
    l.creator_id,
    l.epoch_minute,
    l.epoch_minute > b.complete_minute as in_progress,
    (l.played_ms + l.stalled_ms) / 60000.0 as concurrent_viewers,
    l.chat_messages,
    coalesce(c.chatters, 0) as chatters,
    coalesce(t.tips, 0)::bigint as tips,
    l.attempts,
    l.starts,
    l.fatal_errors,
    100.0 * l.fatal_errors / nullif(l.attempts, 0) as playback_failure_pct,
    l.startup_ms_sum / nullif(l.starts, 0) as startup_mean_ms,
    100.0 * l.stalled_ms
        / nullif(l.startup_ms_sum + l.played_ms + l.stalled_ms + l.seek_ms, 0) as rebuffer_pct,
    lat.live_latency_p50_ms,
    lat.live_latency_p95_ms
from live_minutes as l
cross join bounds as b
left join chatters as c using (content_id, epoch_minute)
left join latency as lat using (content_id, epoch_minute)
left join tips as t on t.creator_id = l.creator_id and t.epoch_minute = l.epoch_minute
where l.content_id in (select content_id from on_air)
order by l.content_id, l.epoch_minute
"""
"""Params: the wall-clock minute before the running one, creator twice, WINDOW_MINUTES,
ON_AIR_MINUTES. One row per on-air stream and minute with data in the window."""

TIPS_SQL = """
select creator_id, currency, sum(tips)::bigint as tips,
    sum(tips_amount_minor)::bigint as tips_amount_minor
from tip_rows
where epoch_minute between ? and ? and (? is null or creator_id = ?)
group by all
having sum(tips) > 0
order by creator_id, currency
"""
"""Params: first and last minute, creator twice. Tips per creator and currency (amounts only
add up within a currency)."""

MINUTE_COLUMNS = [
    "content_id", "creator_id", "epoch_minute", "in_progress", "concurrent_viewers",
    "chat_messages", "chatters", "tips", "attempts", "starts", "fatal_errors",
    "playback_failure_pct", "startup_mean_ms", "rebuffer_pct", "live_latency_p50_ms",
    "live_latency_p95_ms",
]  # fmt: skip


@dataclass(frozen=True)
class LiveNow:
    """What the page shows at one refresh."""

    newest_run_id: int | None
    """The newest committed run read; None when the pipeline has committed nothing."""
    newest_minute: int | None
    """Newest minute with data (epoch minutes), of any content; may still be in progress."""
    complete_minute: int | None
    """The newest complete minute: newest_minute, or the minute before the running one."""
    minutes: pd.DataFrame
    """One row per on-air stream and minute with data (MINUTE_COLUMNS)."""
    last_commit_at_ms: int | None


def live_now(creator_id: str | None, now_ms: int) -> LiveNow:
    """The on-air streams of the newest runs, per minute; `now_ms` decides which minute is
    still running (its rows are shown, marked in progress)."""
    last_commit_at_ms = lake.pipeline_status().last_commit_at_ms
    last_complete = now_ms // 60_000 - 1
    empty = pd.DataFrame(columns=MINUTE_COLUMNS)
    files = lake.window(EXTRACTS)
    run_id, bounds = lake.query(EXTRACTS, BOUNDS_SQL, [last_complete], files)
    if bounds is None or bounds.empty or pd.isna(bounds.iloc[0]["newest_minute"]):
        return LiveNow(run_id, None, None, empty, last_commit_at_ms)
    newest, complete = bounds.iloc[0]["newest_minute"], bounds.iloc[0]["complete_minute"]
    params = [last_complete, creator_id, creator_id, WINDOW_MINUTES, ON_AIR_MINUTES]
    _, minutes = lake.query(EXTRACTS, LIVE_MINUTES_SQL, params, files)
    return LiveNow(
        run_id,
        int(newest),
        int(complete),
        empty if minutes is None else minutes,
        last_commit_at_ms,
    )


def tips_by_currency(creator_id: str | None, first_minute: int, last_minute: int) -> pd.DataFrame:
    """Tips per creator and currency between two minutes (inclusive), from the newest runs."""
    params = [first_minute, last_minute, creator_id, creator_id]
    _, tips = lake.query(EXTRACTS, TIPS_SQL, params)
    if tips is None:
        return pd.DataFrame(columns=["creator_id", "currency", "tips", "tips_amount_minor"])
    return tips
