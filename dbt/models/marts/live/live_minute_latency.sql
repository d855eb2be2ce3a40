{#
    One row per live session (live stream) x UTC minute (event time) in which at least one
    of its heartbeats carried live_latency_ms: p50 and p95 of those heartbeats' latencies
    (METRICS.md "Live latency"), exact over every value the lake kept
    (stg_pipeline__live_latency_minute_values: a count per distinct value), by the
    percentile method of every mart (macros/counted_percentiles.sql). A minute without
    such a heartbeat has no row. Incremental: the minutes from the earliest one staging
    rewrote since this table was built are recomputed (macros/incremental.sql); a minute's
    values only ever grow, so no row is left behind.
#}

{{ incremental_mart_config(['live_id', 'epoch_minute']) }}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__live_latency_minute_values'),
    'time_ms': 'epoch_minute * 60000',
}]) }}

latency_values as (

    select * from {{ ref('stg_pipeline__live_latency_minute_values') }}

    where {{ changed_minutes_filter('epoch_minute') }}

),

per_minute as (

    {{ counted_percentiles(
        'latency_values', ['content_id', 'epoch_minute'], 'live_latency_ms', 'heartbeats',
        [('live_latency_p50_ms', 0.5), ('live_latency_p95_ms', 0.95)]
    ) }}

),

minute_attributes as (

    select
        content_id,
        epoch_minute,
        max(creator_id) as creator_id,
        max(last_processed_at_ms) as last_processed_at_ms

    from latency_values

    group by 1, 2

),

final as (

    select
        per_minute.content_id as live_id,
        minute_attributes.creator_id,
        per_minute.epoch_minute,
        {{ epoch_minute_to_timestamp('per_minute.epoch_minute') }} as minute_start_at,
        cast(per_minute.total as {{ dbt.type_bigint() }}) as latency_heartbeats,
        per_minute.live_latency_p50_ms,
        per_minute.live_latency_p95_ms,
        minute_attributes.last_processed_at_ms

    from per_minute

    inner join minute_attributes
        on
            per_minute.content_id = minute_attributes.content_id
            and per_minute.epoch_minute = minute_attributes.epoch_minute

)

{{ select_build_stamped('final') }}
