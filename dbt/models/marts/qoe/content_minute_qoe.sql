{# meta.test_window_ms: see macros/test_window.sql #}
{{
    config(
        materialized='incremental',
        incremental_strategy=upsert_strategy(),
        unique_key=['epoch_minute', 'content_id'],
        on_schema_change='append_new_columns',
        meta={'test_window_ms': 'epoch_minute * 60000'},
    )
}}

{#
    Event-time measures come from the per-minute aggregates (what happened in the minute);
    the view-level rates (VSF, EBVS) from the views that started in the minute.
#}

with

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where {{ incremental_lookback_filter('epoch_minute', 'epoch_minute', unit='minute') }}

),

views as (

    select * from {{ ref('views') }}

    where {{ incremental_lookback_filter('view_start_minute * 60000', 'epoch_minute * 60000') }}

),

summed_minutes as (

    select
        epoch_minute,
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        {{ summed(
            ['attempts', 'starts', 'fatal_errors', 'played_ms', 'stalled_ms', 'stall_count',
             'seek_ms', 'startup_ms_sum', 'bitrate_weighted'] + startup_bucket_columns()
        ) }}

    from minute_aggregates

    group by 1, 2

),

views_by_start_minute as (

    select
        view_start_minute as epoch_minute,
        content_id,
        count(*) as views,
        cast(sum(case when is_vsf then 1 else 0 end) as {{ dbt.type_bigint() }}) as vsf_views,
        cast(sum(case when is_ebvs then 1 else 0 end) as {{ dbt.type_bigint() }}) as ebvs_views

    from views

    group by 1, 2

),

final as (

    select
        summed_minutes.epoch_minute,
        {{ epoch_minute_to_timestamp('summed_minutes.epoch_minute') }} as minute_start_at,
        summed_minutes.content_id,
        summed_minutes.creator_id,
        summed_minutes.content_type,
        summed_minutes.attempts,
        summed_minutes.starts,
        summed_minutes.fatal_errors,
        {{ pct('summed_minutes.fatal_errors', 'summed_minutes.attempts') }} as playback_failure_pct,
        coalesce(views_by_start_minute.views, 0) as views,
        coalesce(views_by_start_minute.vsf_views, 0) as vsf_views,
        coalesce(views_by_start_minute.ebvs_views, 0) as ebvs_views,
        {{ pct('views_by_start_minute.vsf_views', 'views_by_start_minute.views') }} as vsf_pct,
        {{ pct('views_by_start_minute.ebvs_views', 'views_by_start_minute.views') }} as ebvs_pct,
        {{ safe_ratio('summed_minutes.startup_ms_sum', 'summed_minutes.starts') }}
            as startup_mean_ms,
        {{ histogram_percentile(0.5, 'summed_minutes.') }} as startup_p50_ms,
        {{ histogram_percentile(0.95, 'summed_minutes.') }} as startup_p95_ms,
        {% for column in startup_bucket_columns() -%}
        summed_minutes.{{ column }},
        {% endfor -%}
        summed_minutes.played_ms,
        summed_minutes.stalled_ms,
        summed_minutes.stall_count,
        summed_minutes.seek_ms,
        summed_minutes.startup_ms_sum,
        summed_minutes.startup_ms_sum
        + summed_minutes.played_ms
        + summed_minutes.stalled_ms
        + summed_minutes.seek_ms as watched_ms,
        {{ pct(
            'summed_minutes.stalled_ms',
            'summed_minutes.startup_ms_sum + summed_minutes.played_ms'
            ~ ' + summed_minutes.stalled_ms + summed_minutes.seek_ms'
        ) }} as rebuffer_pct,
        {{ safe_ratio(
            'summed_minutes.stall_count',
            '(summed_minutes.startup_ms_sum + summed_minutes.played_ms'
            ~ ' + summed_minutes.stalled_ms + summed_minutes.seek_ms) / 60000.0'
        ) }} as rebuffer_frequency_per_min,
        {{ safe_ratio('summed_minutes.bitrate_weighted', 'summed_minutes.played_ms') }}
            as avg_bitrate_kbps,
        (summed_minutes.played_ms + summed_minutes.stalled_ms) / 60000.0
            as avg_concurrent_viewers,
        (
            summed_minutes.startup_ms_sum
            + summed_minutes.played_ms
            + summed_minutes.stalled_ms
            + summed_minutes.seek_ms
        ) / 3600000.0 as watch_time_hours

    from summed_minutes

    left join views_by_start_minute
        on
            summed_minutes.epoch_minute = views_by_start_minute.epoch_minute
            and summed_minutes.content_id = views_by_start_minute.content_id

)

select * from final
