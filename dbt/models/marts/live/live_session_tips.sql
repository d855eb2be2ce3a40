{#
    One row per live stream x currency: the tips the stream's creator received while the
    stream was on air (its first to its last minute, as live_sessions defines them). Kept
    per currency because a sum of amounts across currencies means nothing.
#}

with

live_sessions as (

    select * from {{ ref('live_sessions') }}

),

tip_minutes as (

    select * from {{ ref('stg_pipeline__tip_minute_aggregates') }}

),

tips_during_stream as (

    select
        live_sessions.live_id,
        live_sessions.creator_id,
        tip_minutes.currency,
        {{ summed(['tips', 'tips_amount_minor'], 'tip_minutes.') }}

    from live_sessions

    inner join tip_minutes
        on
            live_sessions.creator_id = tip_minutes.creator_id
            and tip_minutes.epoch_minute
            between live_sessions.first_minute and live_sessions.last_minute

    group by 1, 2, 3

),

final as (

    select * from tips_during_stream

)

select * from final
