{#
    Tips per creator, UTC day (event time) and currency: the count and the sum of
    amount_minor, never summed across currencies (METRICS.md "tips"). The total count
    across currencies is creator_daily_performance.tips.

    Incremental: whole days are rebuilt (delete+insert on the day) from the day of the
    earliest tip minute staging rewrote since this table was built. Minute rows never move
    to another day, so a rebuilt day never loses a (creator, currency) row.
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__tip_minute_aggregates'),
    'time_ms': 'epoch_minute * 60000',
}]) }}

tip_minutes as (

    select * from {{ ref('stg_pipeline__tip_minute_aggregates') }}

    where {{ changed_days_filter('cast(minute_start_at as date)') }}

),

final as (

    select
        creator_id,
        cast(minute_start_at as date) as day,
        currency,
        {{ summed(['tips', 'tips_amount_minor']) }}

    from tip_minutes

    group by 1, 2, 3

)

{{ select_build_stamped('final') }}
