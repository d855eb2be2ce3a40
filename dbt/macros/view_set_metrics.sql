{#
    The QoE of a set of views (METRICS.md, "QoE over a set of views"), as select-list
    items over rows of the `playback_sessions` mart grouped by the caller. One definition for every
    mart that reports views: per content and day, per content, per creator and day.
    Completion is over started views of non-live content (it is not defined for live).
#}
{% macro view_set_metrics() -%}
        count(*) as views,
        count(distinct viewer_key) as unique_viewers,
        cast(sum(case when is_started then 1 else 0 end) as {{ dbt.type_bigint() }}) as started_views,
        cast(sum(case when is_failed then 1 else 0 end) as {{ dbt.type_bigint() }}) as failed_views,
        cast(sum(case when is_vsf then 1 else 0 end) as {{ dbt.type_bigint() }}) as vsf_views,
        cast(sum(case when is_ebvs then 1 else 0 end) as {{ dbt.type_bigint() }}) as ebvs_views,
        cast(sum(case when is_started and is_completed then 1 else 0 end) as {{ dbt.type_bigint() }}) as completed_views,
        {{ pct('sum(case when is_failed then 1 else 0 end)', 'count(*)') }} as playback_failure_pct,
        {{ pct('sum(case when is_vsf then 1 else 0 end)', 'count(*)') }} as vsf_pct,
        {{ pct('sum(case when is_ebvs then 1 else 0 end)', 'count(*)') }} as ebvs_pct,
        avg(case when is_started then startup_ms end) as startup_mean_ms,
        {{ percentile_cont('case when is_started then startup_ms end', 0.5) }} as startup_p50_ms,
        {{ percentile_cont('case when is_started then startup_ms end', 0.95) }} as startup_p95_ms,
        {{ pct(
            'sum(case when is_started then stalled_ms else 0 end)',
            'sum(case when is_started then watched_ms else 0 end)'
        ) }} as rebuffer_pct,
        {{ safe_ratio(
            'sum(case when is_started then stall_count else 0 end)',
            'sum(case when is_started then watched_ms else 0 end) / 60000.0'
        ) }} as rebuffer_frequency_per_min,
        {{ safe_ratio('sum(bitrate_weighted)', 'sum(played_ms)') }} as avg_bitrate_kbps,
        cast(sum(played_ms) as {{ dbt.type_bigint() }}) as played_ms,
        cast(sum(watched_ms) as {{ dbt.type_bigint() }}) as watched_ms,
        sum(watched_ms) / 3600000.0 as watch_time_hours,
        {{ safe_ratio('sum(played_ms) / 1000.0', 'sum(case when is_started then 1 else 0 end)') }}
            as avg_view_duration_secs,
        {{ pct(
            "sum(case when is_started and is_completed and content_type <> 'live' then 1 else 0 end)",
            "sum(case when is_started and content_type <> 'live' then 1 else 0 end)"
        ) }} as completion_rate_pct
{%- endmacro %}
