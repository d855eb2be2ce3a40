{{ incremental_mart_config(['story_id', 'epoch_minute']) }}

{#
    The per-minute aggregates of stories, summed over platform and country: impressions,
    completions, navigation, shares and every reaction, per story and minute. The stories
    mart sums this small table instead of scanning every lake run. Incremental: the
    minutes from the earliest one staging rewrote since this table was built are rebuilt
    (macros/incremental.sql); earlier minutes have not changed.
#}

with

{{ changed_since_cte([{
    'relation': ref('stg_pipeline__minute_aggregates'),
    'time_ms': 'epoch_minute * 60000',
    'where': "content_type = 'story'",
}]) }}

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where
        content_type = 'story'
        and {{ changed_minutes_filter('epoch_minute') }}

),

final as (

    select
        content_id as story_id,
        epoch_minute,
        max(creator_id) as creator_id,
        {{ summed([
            'story_views', 'story_completions', 'story_tap_forward', 'story_tap_back',
            'story_tap_exit', 'story_swipe_forward', 'shares', 'reactions',
        ]) }},
        max(last_processed_at_ms) as last_processed_at_ms

    from minute_aggregates

    group by 1, 2

)

{{ select_build_stamped('final') }}
