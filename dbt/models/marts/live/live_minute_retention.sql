{#
    One row per live stream x minute since the stream began (0 = the minute of its first
    player or chat event, through its last, as live_sessions bounds the session): the
    live retention curve of METRICS.md, average concurrent viewers in each minute of the
    stream. Minutes of the stream without data are rows with 0 viewers, so the curve has
    no gaps. Streams are cut at var('marquee_max_live_minutes') minutes (default 10080,
    one week).
#}

with

live_sessions as (

    select * from {{ ref('live_sessions') }}

),

live_minutes as (

    select * from {{ ref('int_live_minutes') }}

),

minute_offsets as (

    {# generate_series numbers 1..n; offsets start at 0. #}
    select generated_number - 1 as minutes_since_start

    from ({{ dbt.generate_series(var('marquee_max_live_minutes', 10080)) }}) as numbers

),

stream_minutes as (

    select
        live_sessions.live_id,
        live_sessions.creator_id,
        minute_offsets.minutes_since_start,
        live_sessions.first_minute + minute_offsets.minutes_since_start as epoch_minute

    from live_sessions

    inner join minute_offsets
        on
            minute_offsets.minutes_since_start
            <= live_sessions.last_minute - live_sessions.first_minute

),

final as (

    select
        stream_minutes.live_id,
        stream_minutes.creator_id,
        stream_minutes.minutes_since_start,
        stream_minutes.epoch_minute,
        {{ epoch_minute_to_timestamp('stream_minutes.epoch_minute') }} as minute_start_at,
        coalesce(live_minutes.avg_concurrent_viewers, 0) as avg_concurrent_viewers,
        coalesce(live_minutes.chat_messages, 0) as chat_messages

    from stream_minutes

    left join live_minutes
        on
            stream_minutes.live_id = live_minutes.live_id
            and stream_minutes.epoch_minute = live_minutes.epoch_minute

)

select * from final
