with

views as (

    select * from {{ ref('views') }}

    where content_type in ('vod', 'clip') and is_started and percent_reached is not null

),

percent_points as (

    {% for point in range(0, 101, 5) -%}
    select {{ point }} as percent_point
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

started_per_content as (

    select
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        count(*) as started_views

    from views

    group by 1

),

reached as (

    select
        views.content_id,
        percent_points.percent_point,
        sum(
            case when views.percent_reached >= percent_points.percent_point / 100.0 then 1 else 0 end
        ) as views_reaching

    from views

    cross join percent_points

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
        {{ pct('reached.views_reaching', 'started_per_content.started_views') }} as retention_pct

    from reached

    inner join started_per_content
        on reached.content_id = started_per_content.content_id

)

select * from final
