{#
    Each started view counts once, at the highest point it reached; a point's
    views_reaching is then the count of views whose highest point is at or past it. This
    reads each view once instead of once per point (21 times), where a cross join of
    views and points would be the slowest model of a build. The comparisons are the
    definition's own (percent_reached >= point / 100.0), so boundary views land exactly
    where the definition puts them.

    Incremental builds recompute only the content whose views changed
    (changed_content_filter), from all of its views, as vod_clip_performance does.
#}

{{ incremental_mart_config(['content_id', 'percent_point']) }}

with

views as (

    select * from {{ ref('playback_sessions') }}

    where
        content_type in ('vod', 'clip')
        and is_started
        and percent_reached is not null
        and {{ changed_content_filter() }}

),

percent_points as (

    {% for point in range(0, 101, 5) -%}
    select {{ point }} as percent_point
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

highest_points as (

    select
        content_id,
        creator_id,
        content_type,
        built_at_ms,
        0
        {%- for point in range(5, 101, 5) %}
        + case when percent_reached >= {{ point }} / 100.0 then 5 else 0 end
        {%- endfor %} as highest_point

    from views

),

views_per_highest_point as (

    select
        content_id,
        highest_point,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        count(*) as views,
        max(built_at_ms) as views_built_at_ms

    from highest_points

    group by 1, 2

),

started_per_content as (

    select
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        cast(sum(views) as {{ dbt.type_bigint() }}) as started_views,
        max(views_built_at_ms) as views_built_at_ms

    from views_per_highest_point

    group by 1

),

reached as (

    select
        started_per_content.content_id,
        percent_points.percent_point,
        cast(
            coalesce(sum(views_per_highest_point.views), 0) as {{ dbt.type_bigint() }}
        ) as views_reaching

    from started_per_content

    cross join percent_points

    left join views_per_highest_point
        on
            started_per_content.content_id = views_per_highest_point.content_id
            and percent_points.percent_point <= views_per_highest_point.highest_point

    group by 1, 2

),

final as (

    select
        reached.content_id,
        started_per_content.creator_id,
        started_per_content.content_type,
        reached.percent_point,
        started_per_content.started_views,
        reached.views_reaching,
        {{ pct('reached.views_reaching', 'started_per_content.started_views') }} as retention_pct,
        started_per_content.views_built_at_ms

    from reached

    inner join started_per_content
        on reached.content_id = started_per_content.content_id

)

{{ select_build_stamped('final') }}
