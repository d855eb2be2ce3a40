{#
    The finest ad grain: per UTC day, ad, break position, ad format and content (with the
    content's creator, catalogue first). The other ad marts roll it up. A play counts on
    the day of its first ad event, its impression (models/docs/ad_metrics.md).

    Incremental: whole days are rebuilt (delete+insert on the day) from the day of the
    earliest first event of a play staging rewrote since this table was built, or of the
    first built day of content whose catalogue record changed. A play only moves to an
    earlier day (its impression arrives late), so every day it was or is on is rebuilt; the
    post-hook deletes the rows of rebuilt days that lost their last play.
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}
{{ config(post_hook="{{ delete_days_left_behind('day') }}") }}

{# The built days of content whose catalogue record changed: owner and type are copied. #}
{% set days_of_changed_content %}
    (
        select built_days.day, content.changed_at_ms
        from {{ this }} as built_days
        inner join {{ ref('stg_catalog__content') }} as content
            on built_days.content_id = content.content_id
    ) as days_of_changed_content
{% endset %}
{% set play_day = 'cast(' ~ epoch_ms_to_timestamp('first_event_ms') ~ ' as date)' %}

with

{{ changed_since_cte([
    {'relation': ref('stg_pipeline__ad_plays'), 'time_ms': 'first_event_ms'},
    {
        'relation': days_of_changed_content,
        'time_ms': timestamp_to_epoch_ms('day'),
        'stamp': 'changed_at_ms',
    },
]) }}

ad_plays as (

    select * from {{ ref('stg_pipeline__ad_plays') }}

    where {{ changed_days_filter(play_day) }}

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

placements as (

    select
        {{ play_day }} as day,
        content_id,
        ad_id,
        coalesce(position, '') as position,  -- noqa: RF04
        coalesce(ad_format, 'linear') as ad_format,
        max(case when creator_id <> '' then creator_id end) as event_creator_id,
        max(case when content_type <> '' then content_type end) as event_content_type,
        {{ ad_play_counts() }}

    from ad_plays

    group by 1, 2, 3, 4, 5

),

final as (

    select
        placements.day,
        placements.content_id,
        placements.ad_id,
        placements.position,
        placements.ad_format,
        coalesce(content.creator_id, placements.event_creator_id, '') as creator_id,
        coalesce(content.content_type, placements.event_content_type, '') as content_type,
        placements.ad_impressions,
        placements.ad_q25,
        placements.ad_q50,
        placements.ad_q75,
        placements.ad_q100,
        placements.ad_skips,
        placements.ad_clicks,
        placements.ad_plays_without_impression,
        placements.ad_quartiles_without_impression,
        {{ ad_rates() }}

    from placements

    left join content
        on placements.content_id = content.content_id

)

{{ select_build_stamped('final') }}
