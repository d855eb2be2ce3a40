{{ incremental_mart_config(['live_id', 'epoch_minute']) }}

{#
    The per-minute aggregates of live content, summed over platform and country: the one
    minute series the live-session marts, the live retention curve and the creator
    engagement numbers read, so the staging view behind it (every lake run) is scanned
    once. Incremental: the minutes from the earliest one staging rewrote since this table
    was built are rebuilt (macros/incremental.sql); earlier minutes have not changed.
#}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__minute_aggregates'),
    'time_ms': 'epoch_minute * 60000',
    'where': "content_type = 'live'",
}]) }}

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where
        content_type = 'live'
        and {{ changed_minutes_filter('epoch_minute') }}

),

summed_per_live_minute as (

    select
        content_id as live_id,
        creator_id,
        epoch_minute,
        {{ summed([
            'attempts', 'starts', 'played_ms', 'stalled_ms', 'stall_count', 'seek_ms',
            'startup_ms_sum', 'chat_messages', 'reactions', 'shares',
        ]) }},
        max(last_processed_at_ms) as last_processed_at_ms

    from minute_aggregates

    group by 1, 2, 3

),

final as (

    select
        live_id,
        creator_id,
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        attempts,
        starts,
        played_ms,
        stalled_ms,
        stall_count,
        seek_ms,
        startup_ms_sum,
        startup_ms_sum + played_ms + stalled_ms + seek_ms as watched_ms,
        (played_ms + stalled_ms) / 60000.0 as avg_concurrent_viewers,
        chat_messages,
        reactions,
        shares,
        last_processed_at_ms

    from summed_per_live_minute

)

{{ select_build_stamped('final') }}
