{{ incremental_mart_config(['epoch_minute', 'content_id']) }}

{#
    Event-time measures come from the per-minute aggregates (what happened in the minute);
    the view-level rates (VSF, EBVS) from the views that started in the minute.

    An incremental build rewrites only the minutes that changed, out of those from the
    earliest minute of an aggregate or a view start that changed since this table was
    built (macros/incremental.sql):
    - minutes whose aggregates staging rewrote since the last build (stamped by a staging
      build newer than any this table has read, staged_built_at_ms);
    - minutes of content whose owner (creator, type) staging resolved anew: it rewrites
      every row of such content without a new run;
    - minutes whose view counts differ from the built ones. The counts are recomputed over
      every view from that minute on (cheap: no percentiles), because a view's start can
      move to an earlier minute (a late event) and the minute it left changes too, and a
      view turns EBVS by time alone.
    Every other minute from that minute on would be rewritten with the values it has.
#}

{% set inputs = [
    {'relation': ref('stg_pipeline__minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('playback_sessions'), 'time_ms': 'view_start_ms'},
] %}

with

{{ changed_since_cte(inputs) }}

minute_aggregates_in_scope as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where {{ changed_minutes_filter('epoch_minute') }}

),

views as (

    select * from {{ ref('playback_sessions') }}

    where {{ changed_minutes_filter('view_start_minute') }}

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

{% if is_incremental() -%}
built as (

    select epoch_minute, content_id, creator_id, content_type, views, vsf_views, ebvs_views
    from {{ this }}
    where {{ changed_minutes_filter('epoch_minute') }}

),

{# Staging rewrites every row of a content whose owner the events first name late. #}
contents_with_a_new_owner as (

    select distinct staged.content_id
    from (
        select distinct content_id, creator_id, content_type from minute_aggregates_in_scope
    ) as staged
    inner join (
        select distinct content_id, creator_id, content_type from built
    ) as owners_built
        on staged.content_id = owners_built.content_id
    where
        staged.creator_id <> owners_built.creator_id
        or staged.content_type <> owners_built.content_type

),

changed_minutes as (

    select epoch_minute, content_id
    from minute_aggregates_in_scope
    where built_at_ms > {{ built_max('staged_built_at_ms') }}

    union

    select epoch_minute, content_id
    from built
    where content_id in (select content_id from contents_with_a_new_owner)

    union

    {{ keys_with_changed_values(
        'built', 'views_by_start_minute', ['epoch_minute', 'content_id'],
        ['views', 'vsf_views', 'ebvs_views'],
    ) }}

),

minute_aggregates as (

    select * from minute_aggregates_in_scope
    where exists ({{ same_key_in(
        'changed_minutes', 'minute_aggregates_in_scope', ['epoch_minute', 'content_id']
    ) }})

),
{%- else -%}
minute_aggregates as (

    select * from minute_aggregates_in_scope

),
{%- endif %}

summed_minutes as (

    select
        epoch_minute,
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        {{ summed(
            ['attempts', 'starts', 'fatal_errors', 'played_ms', 'stalled_ms', 'stall_count',
             'seek_ms', 'startup_ms_sum', 'bitrate_weighted'] + startup_bucket_columns()
        ) }},
        max(last_processed_at_ms) as last_processed_at_ms,
        max(built_at_ms) as staged_built_at_ms

    from minute_aggregates

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
        ) / 3600000.0 as watch_time_hours,
        summed_minutes.last_processed_at_ms,
        summed_minutes.staged_built_at_ms

    from summed_minutes

    left join views_by_start_minute
        on
            summed_minutes.epoch_minute = views_by_start_minute.epoch_minute
            and summed_minutes.content_id = views_by_start_minute.content_id

)

{{ select_build_stamped('final') }}
