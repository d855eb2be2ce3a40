{#
    Per UTC day, ad and ad format: the ad metrics of each ad over every content and
    break position it played in (a sum of ad_placement_daily_performance;
    macros/ad_metrics.sql).
#}

{{ ad_rollup(['day', 'ad_id', 'ad_format']) }}

{# Earlier releases built this table per day and content: appending the new columns would
   keep those rows under another grain, so a table of that shape fails the build instead
   (rebuild it with --full-refresh once, dbt/README.md). #}
{{ config(on_schema_change='fail') }}
