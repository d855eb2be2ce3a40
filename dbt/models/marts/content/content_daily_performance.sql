{{ incremental_mart_config(['day', 'content_id']) }}

{#
    Event counts and times per content and UTC day of the events, from the per-minute
    aggregates, and the day's peak concurrent viewers (its busiest minute, summed over
    platforms and countries). It counts play requests, not views: a view (playback
    session) belongs to the day of its start and is counted from the playback_sessions
    mart (content_daily_qoe per content and day, creator_daily_performance per creator and
    day).

    Incremental builds rebuild whole days, from the day of the earliest minute staging
    rewrote since this table was built (macros/incremental.sql).
#}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__minute_aggregates'), 'time_ms': 'epoch_minute * 60000',
}]) }}

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where {{ changed_days_filter('minute_date') }}

),

summed_by_day as (

    select
        minute_date as day,
        content_id,
        creator_id,
        content_type,
        cast(sum(attempts) as {{ dbt.type_bigint() }}) as play_requests,
        cast(sum(starts) as {{ dbt.type_bigint() }}) as starts,
        cast(sum(fatal_errors) as {{ dbt.type_bigint() }}) as fatal_errors,
        cast(sum(played_ms) as {{ dbt.type_bigint() }}) as played_ms,
        cast(sum(stalled_ms) as {{ dbt.type_bigint() }}) as stalled_ms,
        cast(sum(stall_count) as {{ dbt.type_bigint() }}) as stall_count,
        cast(sum(seek_ms) as {{ dbt.type_bigint() }}) as seek_ms,
        cast(sum(startup_ms_sum) as {{ dbt.type_bigint() }}) as startup_ms_sum,
        max(minute_start_at) as last_minute_start_at

    from minute_aggregates

    group by 1, 2, 3, 4

),

concurrent_by_minute as (

    select
        minute_date as day,
        content_id,
        epoch_minute,
        sum(played_ms + stalled_ms) / 60000.0 as avg_concurrent_viewers

    from minute_aggregates

    group by 1, 2, 3

),

peak_by_day as (

    select
        day,
        content_id,
        max(avg_concurrent_viewers) as peak_concurrent_viewers

    from concurrent_by_minute

    group by 1, 2

),

with_peak as (

    select
        summed_by_day.*,
        peak_by_day.peak_concurrent_viewers

    from summed_by_day

    inner join peak_by_day
        on
            summed_by_day.day = peak_by_day.day
            and summed_by_day.content_id = peak_by_day.content_id

),

final as (

    select
        day,
        content_id,
        creator_id,
        content_type,
        play_requests,
        starts,
        fatal_errors,
        played_ms,
        stalled_ms,
        stall_count,
        seek_ms,
        startup_ms_sum,
        startup_ms_sum + played_ms + stalled_ms + seek_ms as watched_ms,
        peak_concurrent_viewers,
        last_minute_start_at

    from with_peak

)

{{ select_build_stamped('final') }}
