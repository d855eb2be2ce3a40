{#
    A table: every mart and test over the minute grain reads it, and as a view each of them
    evaluated the merge over the whole lake again. The minute-level data that serving.duckdb
    shows before the next build is stg_pipeline__minute_aggregates_live.
#}

{% set committed_lake_rows %}
(
    select * from {{ source('pipeline', 'minute_aggregates') }}
    where {{ committed_runs_only() }}
)
{% endset %}

with

{{ merged_minute_aggregates(committed_lake_rows) }}
