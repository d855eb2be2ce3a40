{#
    One row per live session (live_sessions' grain: a live stream with a player or chat
    event) with the clips cut from it (METRICS.md, Discovery, "clips from a live"): the
    catalogue's clips whose source_live_id is the live, and their views by view start in
    [the session's first minute, + 7 days). Distinct viewers are counted across all of its
    clips, so a viewer of two of its clips counts once. A live with no clip has a row with
    zeros; a clip naming a live that has no session (yet) is in no row.
    A table rebuilt whole: a live's window stays open for a week after it, so its row can
    change with every build until then.
#}

with

live_sessions as (

    select * from {{ ref('live_sessions') }}

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

views as (

    select * from {{ ref('playback_sessions') }}

),

windows as (

    select
        live_id,
        creator_id,
        creator_name,
        content_title,
        first_minute,
        stream_started_at,
        first_minute * 60000 as window_start_ms,
        first_minute * 60000 + 604800000 as window_end_ms

    from live_sessions

),

clips as (

    select
        windows.live_id,
        content.content_id as clip_id

    from windows

    inner join content
        on
            windows.live_id = content.source_live_id
            and content.content_type = 'clip'

),

clip_counts as (

    select
        live_id,
        count(*) as clips

    from clips

    group by 1

),

clip_views as (

    select
        clips.live_id,
        views.content_id,
        views.viewer_key,
        views.watched_ms

    from clips

    inner join windows
        on clips.live_id = windows.live_id

    inner join views
        on
            clips.clip_id = views.content_id
            and windows.window_start_ms <= views.view_start_ms
            and windows.window_end_ms > views.view_start_ms

),

view_totals as (

    select
        live_id,
        count(*) as clip_views,
        count(distinct content_id) as clips_viewed,
        count(distinct viewer_key) as clip_unique_viewers,
        cast(sum(watched_ms) as {{ dbt.type_bigint() }}) as clip_watched_ms

    from clip_views

    group by 1

),

final as (

    select
        windows.live_id,
        windows.creator_id,
        windows.creator_name,
        windows.content_title,
        windows.first_minute,
        windows.stream_started_at,
        {{ epoch_ms_to_timestamp('windows.window_end_ms') }} as clip_window_ends_at,
        coalesce(clip_counts.clips, 0) as clips,
        coalesce(view_totals.clips_viewed, 0) as clips_viewed,
        coalesce(view_totals.clip_views, 0) as clip_views,
        coalesce(view_totals.clip_unique_viewers, 0) as clip_unique_viewers,
        coalesce(view_totals.clip_watched_ms, 0) as clip_watched_ms,
        coalesce(view_totals.clip_watched_ms, 0) / 3600000.0 as clip_watch_time_hours

    from windows

    left join clip_counts
        on windows.live_id = clip_counts.live_id

    left join view_totals
        on windows.live_id = view_totals.live_id

)

select * from final
