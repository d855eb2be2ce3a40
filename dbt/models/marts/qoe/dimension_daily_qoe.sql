{{ incremental_mart_config(['view_date', 'dimension', 'dimension_value']) }}
{{ config(post_hook="{{ delete_day_rows_left_behind('view_date') }}") }}

{#
    The QoE of each UTC day's views (by view start) broken down by every dimension in turn:
    content type, platform, country, app version, OS and device (METRICS.md). One grouping
    set per dimension, so every metric is exact over its row's views, percentiles too.
    App version, OS and device outside the day's top values report as 'other'
    (ranked_dimension_values(), over the day's views).

    A day's ranking moves with any of its views, so an incremental build rebuilds whole
    days from the first day with a changed view, and deletes the rows of those days it
    did not write (a value that left the top, or lost its last view).
#}

with

{{ changed_since_cte([{'relation': ref('playback_sessions'), 'time_ms': 'view_start_ms'}]) }}

views as (

    select * from {{ ref('playback_sessions') }}

    where {{ changed_days_filter('view_date') }}

),

ranked_values as (

    {{ ranked_dimension_values('views') }}  -- noqa: PRS

),

views_with_reported_dimensions as (

    {{ views_with_reported_dimensions('views', 'ranked_values') }}

),

final as (

    select
        view_date,
        {{ dimension_and_value(qoe_dimensions()) }},
        {{ view_set_metrics() }}

    from views_with_reported_dimensions

    group by {{ dimension_grouping_sets(['view_date'], qoe_dimensions()) }}  -- noqa: PRS

)

{{ select_build_stamped('final') }}
