{#
    A table: every mart and test over the minute grain reads it, and as a view each of them
    evaluated the merge over the whole lake again. The minute-level data that serving.duckdb
    shows before the next build is stg_pipeline__minute_aggregates_live.

    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = minute_key_columns() %}

{{ incremental_staging_config('minute_aggregates', key_columns) }}

with

{% if staging_is_incremental() %}

{{ remerged_content_minutes(lake_rows_this_run('minute_aggregates'), key_columns, minute_measure_columns()) }},

{{ minute_aggregates_final(stamped=true) }}

{% else %}

{{ merged_minute_aggregates(lake_rows_this_run('minute_aggregates'), stamped=true) }}

{% endif %}
