{#
    Impressions and impression click-through per creator, UTC day and surface (METRICS.md
    "Discovery", YouTube's "impressions CTR"): the sums of content_daily_impressions over
    the creator's content, the rate divided again from those sums (never an average of the
    content rates), NULL without impressions; creator_day_impressions is the creator's
    total over every surface that day. The creator is the catalogue's owner (resolved
    upstream).

    A table rebuilt whole each build: one row per creator, day and surface seen, a small
    rollup of content_daily_impressions.
#}

with

content_days as (

    select * from {{ ref('content_daily_impressions') }}

),

creator_surfaces as (

    select
        creator_id,
        day,
        surface,
        {{ summed(['impressions', 'surfaced_views']) }}

    from content_days

    group by 1, 2, 3

),

final as (

    select
        creator_id,
        day,
        surface,
        impressions,
        surfaced_views,
        {{ safe_ratio('surfaced_views', 'impressions') }} as impression_ctr,
        cast(
            sum(impressions) over (partition by creator_id, day) as {{ dbt.type_bigint() }}
        ) as creator_day_impressions

    from creator_surfaces

)

{{ select_build_stamped('final') }}
