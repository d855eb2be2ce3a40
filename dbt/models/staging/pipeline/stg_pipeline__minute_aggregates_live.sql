{#
    The same merge as stg_pipeline__minute_aggregates, as a view over every run file landed
    so far (committed or about to be): serving.duckdb is a copy of the warehouse, and this
    view in it shows a minute as soon as the pipeline lands the run that read it, without
    waiting for the next dbt build (benchmarks/lag.py measures this). Nothing in the
    project reads it, and it carries no test: every test would evaluate it over the whole
    lake again; the build's table carries them.
#}
{{ config(materialized='view') }}

with

{{ merged_minute_aggregates(lake_rows_once('minute_aggregates')) }}
