{#
    Per UTC day, content and ad format: the ad metrics of the ads played in the content
    (a sum of ad_placement_daily_performance; macros/ad_metrics.sql), with its creator.
#}

{{ ad_rollup(['day', 'content_id', 'ad_format'], attributes=['creator_id', 'content_type']) }}
