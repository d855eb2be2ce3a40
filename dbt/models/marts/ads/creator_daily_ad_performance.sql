{#
    Per creator, UTC day and ad format: the ad metrics of the ads played in the
    creator's content (a sum of ad_placement_daily_performance).

    Incremental, as every ad rollup: whole days are rebuilt (delete+insert on the day)
    from the earliest day ad_placement_daily_performance rewrote since this table was
    built; the post-hook deletes the rows of those days that lost their last play.
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}
{{ config(post_hook="{{ delete_days_left_behind('day') }}") }}

with

{{ changed_since_cte([{
    'relation': ref('ad_placement_daily_performance'),
    'time_ms': timestamp_to_epoch_ms('day'),
}]) }}

placements as (

    select * from {{ ref('ad_placement_daily_performance') }}

    where {{ changed_days_filter('day') }}

),

summed as (

    select
        creator_id,
        day,
        ad_format,
        {{ ad_counts_summed() }}

    from placements

    group by 1, 2, 3

),

final as (

    select
        *,
        {{ ad_rates() }}

    from summed

)

{{ select_build_stamped('final') }}
