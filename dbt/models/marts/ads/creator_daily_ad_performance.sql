{#
    Per creator, UTC day and ad format: the ad metrics of the ads played in the
    creator's content (a sum of ad_placement_daily_performance; macros/ad_metrics.sql).
#}

{{ ad_rollup(['creator_id', 'day', 'ad_format']) }}
