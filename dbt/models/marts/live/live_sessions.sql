{#
    One row per live stream with playback or chat in the lake. The stream runs from its
    first to its last minute with playback or chat (int_live_minutes.is_stream_minute);
    minutes in between without data count as minutes with no viewers. Follows and tips are
    about the creator, not the stream: those made while the stream was on air (its first
    to its last minute, inclusive) are credited to it.
#}

with

live_minutes as (

    select * from {{ ref('int_live_minutes') }}

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

content as (

    select * from {{ ref('stg_catalog__content') }}

),

creators as (

    select * from {{ ref('stg_catalog__creators') }}

),

stream_bounds as (

    select
        live_id,
        creator_id,
        min(epoch_minute) as first_minute,
        max(epoch_minute) as last_minute,
        max((played_ms + stalled_ms) / 60000.0) as peak_concurrent_viewers

    from live_minutes

    where is_stream_minute

    group by 1, 2

),

stream_totals as (

    select
        live_id,
        {{ summed([
            'attempts', 'starts', 'played_ms', 'stalled_ms', 'watched_ms', 'chat_messages',
        ]) }},
        max(last_processed_at_ms) as last_processed_at_ms

    from live_minutes

    group by 1

),

audience as (

    select
        live_id,
        count(distinct case when fact in ('requested', 'started') then viewer_key end)
            as unique_viewers,
        count(distinct case when fact = 'chatted' then viewer_key end) as chatters

    from live_viewer_facts

    group by 1

),

followers_during_stream as (

    select
        stream_bounds.live_id,
        {{ summed(['follows', 'unfollows'], 'creator_minutes.') }}

    from stream_bounds

    inner join creator_minutes
        on
            stream_bounds.creator_id = creator_minutes.creator_id
            and creator_minutes.epoch_minute
            between stream_bounds.first_minute and stream_bounds.last_minute

    group by 1

),

tips_during_stream as (

    select
        stream_bounds.live_id,
        {{ summed(['tips'], 'tip_minutes.') }},
        count(distinct tip_minutes.currency) as tip_currencies

    from stream_bounds

    inner join tip_minutes
        on
            stream_bounds.creator_id = tip_minutes.creator_id
            and tip_minutes.epoch_minute
            between stream_bounds.first_minute and stream_bounds.last_minute

    group by 1

),

joined as (

    select
        stream_bounds.live_id,
        coalesce(content.creator_id, stream_bounds.creator_id) as creator_id,
        creators.creator_name,
        content.title as content_title,
        content.published_at,
        stream_bounds.first_minute,
        stream_bounds.last_minute,
        {{ epoch_minute_to_timestamp('stream_bounds.first_minute') }} as stream_started_at,
        {{ epoch_minute_to_timestamp('stream_bounds.last_minute') }} as last_minute_start_at,
        cast({{ epoch_minute_to_timestamp('stream_bounds.first_minute') }} as date) as stream_date,
        stream_bounds.last_minute - stream_bounds.first_minute + 1 as stream_minutes,
        stream_totals.attempts as views,
        stream_totals.starts,
        coalesce(audience.unique_viewers, 0) as unique_viewers,
        stream_totals.played_ms,
        stream_totals.stalled_ms,
        stream_totals.watched_ms,
        stream_totals.watched_ms / 60000.0 as minutes_watched,
        (stream_totals.played_ms + stream_totals.stalled_ms) / 60000.0
        / (stream_bounds.last_minute - stream_bounds.first_minute + 1) as avg_concurrent_viewers,
        stream_bounds.peak_concurrent_viewers,
        stream_totals.chat_messages,
        1.0 * stream_totals.chat_messages
        / (stream_bounds.last_minute - stream_bounds.first_minute + 1) as chat_messages_per_minute,
        coalesce(audience.chatters, 0) as chatters,
        coalesce(followers_during_stream.follows, 0) as follows,
        coalesce(followers_during_stream.unfollows, 0) as unfollows,
        coalesce(followers_during_stream.follows, 0)
        - coalesce(followers_during_stream.unfollows, 0) as net_followers,
        coalesce(tips_during_stream.tips, 0) as tips,
        coalesce(tips_during_stream.tip_currencies, 0) as tip_currencies,
        stream_totals.last_processed_at_ms

    from stream_bounds

    inner join stream_totals
        on stream_bounds.live_id = stream_totals.live_id

    left join content
        on stream_bounds.live_id = content.content_id

    left join creators
        on coalesce(content.creator_id, stream_bounds.creator_id) = creators.creator_id

    left join audience
        on stream_bounds.live_id = audience.live_id

    left join followers_during_stream
        on stream_bounds.live_id = followers_during_stream.live_id

    left join tips_during_stream
        on stream_bounds.live_id = tips_during_stream.live_id

),

final as (

    select * from joined

)

select * from final
