{{ incremental_mart_config(['day', 'content_id']) }}

{#
    The lake counts ad events per minute and content (the content the ad played in); it
    does not keep ad_id or the break position yet, so this mart's finest grain is the
    content, rolled up by creator with a sum. Incremental: whole days are rebuilt, from the
    day of the earliest minute with ad events that staging rewrote since this table was
    built.
#}

{% set has_ad_activity = (
    'ad_impressions + ad_q25 + ad_q50 + ad_q75 + ad_q100 + ad_skips + ad_clicks > 0'
) %}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__minute_aggregates'),
    'time_ms': 'epoch_minute * 60000',
    'where': has_ad_activity,
}]) }}

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where
        {{ has_ad_activity }}
        and {{ changed_days_filter('minute_date') }}

),

summed as (

    select
        minute_date as day,
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        {{ summed(['ad_impressions', 'ad_q25', 'ad_q50', 'ad_q75', 'ad_q100', 'ad_skips', 'ad_clicks']) }},
        max(epoch_minute) as last_epoch_minute

    from minute_aggregates

    group by 1, 2

),

final as (

    select
        day,
        content_id,
        creator_id,
        content_type,
        ad_impressions,
        ad_q25,
        ad_q50,
        ad_q75,
        ad_q100,
        ad_skips,
        ad_clicks,
        {{ pct('ad_q25', 'ad_impressions') }} as q25_reach_pct,
        {{ pct('ad_q50', 'ad_impressions') }} as q50_reach_pct,
        {{ pct('ad_q75', 'ad_impressions') }} as q75_reach_pct,
        {{ pct('ad_q100', 'ad_impressions') }} as q100_reach_pct,
        {{ pct('ad_q100', 'ad_impressions') }} as ad_completion_rate_pct,
        {{ pct('ad_skips', 'ad_impressions') }} as skip_rate_pct,
        {{ pct('ad_clicks', 'ad_impressions') }} as ctr_pct,
        last_epoch_minute

    from summed

)

{{ select_build_stamped('final') }}
