{#
    Impressions and impression click-through per content, surface and UTC day (METRICS.md
    "Discovery"): the content_impression events on the surface that day (event time), the
    content's views starting that day (view start) whose play_requested.surface is the
    surface, and their ratio, NULL without impressions. A (day, content, surface) with
    surfaced views but no impressions has a row with a NULL rate: those views count in no
    rate. Views without a surface are in no row.

    Incremental: whole days are rebuilt (delete+insert on the day) from the day of the
    earliest impression minute staging rewrote, or of the earliest surfaced view
    playback_sessions rewrote, since this table was built. Minute rows never move to
    another day and a view's start only moves earlier, so a rebuilt day is complete.
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}

with

{{ changed_since_cte([
    {
        'relation': ref('stg_pipeline__impression_minute_aggregates'),
        'time_ms': 'epoch_minute * 60000',
    },
    {
        'relation': ref('playback_sessions'),
        'time_ms': 'view_start_ms',
        'where': 'surface is not null',
    },
]) }}

impression_minutes as (

    select * from {{ ref('stg_pipeline__impression_minute_aggregates') }}

    where {{ changed_days_filter('cast(minute_start_at as date)') }}

),

surfaced_sessions as (

    select * from {{ ref('playback_sessions') }}

    where surface is not null and {{ changed_days_filter('view_date') }}

),

impressions_per_day as (

    select
        cast(minute_start_at as date) as day,
        content_id,
        surface,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        {{ summed(['impressions']) }}

    from impression_minutes

    group by 1, 2, 3

),

views_per_day as (

    select
        view_date as day,
        content_id,
        surface,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        cast(count(*) as {{ dbt.type_bigint() }}) as surfaced_views

    from surfaced_sessions

    group by 1, 2, 3

),

day_content_surfaces as (

    select
        day,
        content_id,
        surface
    from impressions_per_day

    union

    select
        day,
        content_id,
        surface
    from views_per_day

),

final as (

    select
        day_keys.day,
        day_keys.content_id,
        coalesce(impressions_per_day.creator_id, views_per_day.creator_id) as creator_id,
        coalesce(impressions_per_day.content_type, views_per_day.content_type) as content_type,
        day_keys.surface,
        coalesce(impressions_per_day.impressions, 0) as impressions,
        coalesce(views_per_day.surfaced_views, 0) as surfaced_views,
        {{ safe_ratio(
            'coalesce(views_per_day.surfaced_views, 0)', 'impressions_per_day.impressions'
        ) }} as impression_ctr

    from day_content_surfaces as day_keys

    left join impressions_per_day
        on
            day_keys.day = impressions_per_day.day
            and day_keys.content_id = impressions_per_day.content_id
            and day_keys.surface = impressions_per_day.surface

    left join views_per_day
        on
            day_keys.day = views_per_day.day
            and day_keys.content_id = views_per_day.content_id
            and day_keys.surface = views_per_day.surface

)

{{ select_build_stamped('final') }}
