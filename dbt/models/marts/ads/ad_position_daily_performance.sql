{#
    Per UTC day, break position (pre, mid, post) and ad format: the ad metrics of every
    ad played in breaks of that position (a sum of ad_placement_daily_performance;
    macros/ad_metrics.sql).
#}

{{ ad_rollup(['day', 'position', 'ad_format']) }}
