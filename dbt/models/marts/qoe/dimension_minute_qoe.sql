{{ incremental_mart_config(['epoch_minute', 'dimension', 'dimension_value']) }}
{{ config(
    post_hook="{{ delete_day_rows_left_behind('view_date', keep_from=qoe_minute_window_start()) }}"
) }}

{#
    The QoE of the views that started in each UTC minute of the last qoe_minute_days()
    UTC days (today and yesterday by default, at the build's "now"), broken down by every
    dimension in turn (content type, platform, country, app version, OS, device): the
    metrics of dimension_daily_qoe, exact over the minute's views. App version, OS and
    device report the day's top values and 'other' (ranked_dimension_values(), over the
    day's views), so a value's minutes add up to its day.

    Minutes are for watching the recent hours; older days are in dimension_daily_qoe. Six
    breakdowns a minute make about three rows per view, which kept for all time made a
    full build a fifth costlier (docs/decisions/0002-qoe-dimensions.md).

    A day's ranking moves with any of its views, so an incremental build rebuilds every
    minute of the days from the first day with a changed view (after an hour of new data:
    today's minutes), and deletes the rows of those days it did not write and of the days
    that left the window.
#}

with

{{ changed_since_cte([{'relation': ref('playback_sessions'), 'time_ms': 'view_start_ms'}]) }}

views as (

    select * from {{ ref('playback_sessions') }}

    where
        {{ changed_days_filter('view_date') }}
        and view_date >= {{ qoe_minute_window_start() }}

),

ranked_values as (

    {{ ranked_dimension_values('views') }}  -- noqa: PRS

),

views_with_reported_dimensions as (

    {{ views_with_reported_dimensions('views', 'ranked_values', ['view_start_minute']) }}

),

final as (

    select
        view_start_minute as epoch_minute,
        {{ epoch_minute_to_timestamp('view_start_minute') }} as minute_start_at,
        view_date,
        {{ dimension_and_value(qoe_dimensions()) }},
        {{ view_set_metrics() }}

    from views_with_reported_dimensions

    group by {{ dimension_grouping_sets(['view_start_minute', 'view_date'], qoe_dimensions()) }}  -- noqa: PRS, LT05

)

{{ select_build_stamped('final') }}
