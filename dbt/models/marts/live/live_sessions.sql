{#
    One row per live stream with a player or chat event in the lake (METRICS.md, live
    session). The session runs from the UTC minute of the stream's first player or chat
    event to the minute of its last: its views' first and last events (the playback_sessions mart's
    first_event_ms and last_event_ms; ad events happen inside a view), and its minutes
    with player activity or chat in the per-minute aggregates. A minute with only a late reaction or share does not open or stretch it, and
    minutes in between without data count as minutes with no viewers.

    Views are playback sessions of the live, counted from the playback_sessions mart as every mart
    counts them (view_set_metrics); play_requests counts its play_requested events.
    Minutes watched is over its views' watched time. Concurrency is per minute
    (int_live_minutes): the average over the session's minutes, and the peak of the
    per-minute averages. Follows, unfollows and tips are about the creator, not the
    stream: those inside the session's minutes (first to last, inclusive) are credited to
    it (tips per currency: live_session_tips). Live latency p50 and p95 are over all the
    stream's heartbeats that carried live_latency_ms (METRICS.md), exact, from
    int_live_session_latency; per minute: live_minute_latency.
#}

with

live_minutes as (

    select * from {{ ref('int_live_minutes') }}

),

live_views as (

    select * from {{ ref('playback_sessions') }}

    where content_id in (select live_minutes.live_id from live_minutes)

),

live_viewer_facts as (

    select * from {{ ref('stg_pipeline__live_viewer_facts') }}

),

creator_minutes as (

    select * from {{ ref('stg_pipeline__creator_minute_aggregates') }}

),

tip_minutes as (

    select * from {{ ref('stg_pipeline__tip_minute_aggregates') }}

),

session_latency as (

    select * from {{ ref('int_live_session_latency') }}

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

creators as (

    select * from {{ ref('stg_catalog__creators') }}

),

player_and_chat_minutes as (

    select
        content_id as live_id,
        {{ epoch_ms_to_epoch_minute('first_event_ms') }} as first_minute,
        {{ epoch_ms_to_epoch_minute('last_event_ms') }} as last_minute

    from live_views

    union all

    select
        live_id,
        epoch_minute as first_minute,
        epoch_minute as last_minute

    from live_minutes

    where chat_messages > 0 or attempts + starts + played_ms + stalled_ms > 0

),

stream_bounds as (

    select
        live_id,
        min(first_minute) as first_minute,
        max(last_minute) as last_minute

    from player_and_chat_minutes

    group by 1

),

{# Every player event and chat message of the live is inside its bounds. #}
minute_totals as (

    select
        stream_bounds.live_id,
        max(live_minutes.creator_id) as creator_id,
        {{ summed([
            'attempts', 'starts', 'played_ms', 'stalled_ms', 'chat_messages',
        ], 'live_minutes.') }},
        max(live_minutes.avg_concurrent_viewers) as peak_concurrent_viewers,
        max(live_minutes.last_processed_at_ms) as last_processed_at_ms

    from stream_bounds

    inner join live_minutes
        on
            stream_bounds.live_id = live_minutes.live_id
            and live_minutes.epoch_minute
            between stream_bounds.first_minute and stream_bounds.last_minute

    group by 1

),

view_numbers as (

    select
        content_id as live_id,
        {{ view_set_metrics() }}

    from live_views

    group by 1

),

audience as (

    select
        live_id,
        count(distinct case when fact = 'chatted' then viewer_key end) as chatters

    from live_viewer_facts

    group by 1

),

sessions as (

    select
        stream_bounds.live_id,
        coalesce(content.creator_id, minute_totals.creator_id) as creator_id,
        stream_bounds.first_minute,
        stream_bounds.last_minute

    from stream_bounds

    inner join minute_totals
        on stream_bounds.live_id = minute_totals.live_id

    left join content
        on stream_bounds.live_id = content.content_id

),

followers_during_stream as (

    select
        sessions.live_id,
        {{ summed(['follows', 'unfollows'], 'creator_minutes.') }}

    from sessions

    inner join creator_minutes
        on
            sessions.creator_id = creator_minutes.creator_id
            and creator_minutes.epoch_minute
            between sessions.first_minute and sessions.last_minute

    group by 1

),

tips_during_stream as (

    select
        sessions.live_id,
        {{ summed(['tips'], 'tip_minutes.') }},
        count(distinct tip_minutes.currency) as tip_currencies

    from sessions

    inner join tip_minutes
        on
            sessions.creator_id = tip_minutes.creator_id
            and tip_minutes.epoch_minute
            between sessions.first_minute and sessions.last_minute

    group by 1

),

joined as (

    select
        sessions.live_id,
        sessions.creator_id,
        creators.creator_name,
        content.title as content_title,
        content.published_at,
        sessions.first_minute,
        sessions.last_minute,
        {{ epoch_minute_to_timestamp('sessions.first_minute') }} as stream_started_at,
        {{ epoch_minute_to_timestamp('sessions.last_minute') }} as last_minute_start_at,
        cast({{ epoch_minute_to_timestamp('sessions.first_minute') }} as date) as stream_date,
        sessions.last_minute - sessions.first_minute + 1 as stream_minutes,
        coalesce(view_numbers.views, 0) as views,
        minute_totals.attempts as play_requests,
        minute_totals.starts,
        coalesce(view_numbers.unique_viewers, 0) as unique_viewers,
        minute_totals.played_ms,
        minute_totals.stalled_ms,
        coalesce(view_numbers.watched_ms, 0) as watched_ms,
        coalesce(view_numbers.watched_ms, 0) / 60000.0 as minutes_watched,
        (minute_totals.played_ms + minute_totals.stalled_ms) / 60000.0
        / (sessions.last_minute - sessions.first_minute + 1) as avg_concurrent_viewers,
        minute_totals.peak_concurrent_viewers,
        minute_totals.chat_messages,
        1.0 * minute_totals.chat_messages
        / (sessions.last_minute - sessions.first_minute + 1) as chat_messages_per_minute,
        coalesce(audience.chatters, 0) as chatters,
        coalesce(followers_during_stream.follows, 0) as follows,
        coalesce(followers_during_stream.unfollows, 0) as unfollows,
        coalesce(followers_during_stream.follows, 0)
        - coalesce(followers_during_stream.unfollows, 0) as net_followers,
        coalesce(tips_during_stream.tips, 0) as tips,
        coalesce(tips_during_stream.tip_currencies, 0) as tip_currencies,
        coalesce(session_latency.latency_heartbeats, 0) as latency_heartbeats,
        session_latency.live_latency_p50_ms,
        session_latency.live_latency_p95_ms,
        minute_totals.last_processed_at_ms

    from sessions

    inner join minute_totals
        on sessions.live_id = minute_totals.live_id

    left join view_numbers
        on sessions.live_id = view_numbers.live_id

    left join content
        on sessions.live_id = content.content_id

    left join creators
        on sessions.creator_id = creators.creator_id

    left join audience
        on sessions.live_id = audience.live_id

    left join followers_during_stream
        on sessions.live_id = followers_during_stream.live_id

    left join tips_during_stream
        on sessions.live_id = tips_during_stream.live_id

    left join session_latency
        on sessions.live_id = session_latency.live_id

),

final as (

    select * from joined

)

select * from final
