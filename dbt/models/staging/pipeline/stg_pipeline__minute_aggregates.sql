{#
    The one staging model kept as a view (the others are tables, computed once per build):
    serving.duckdb is a copy of the warehouse, and a view over the lake's Parquet files there
    shows a minute as soon as the pipeline commits the run that read it, without waiting for
    the next dbt build (benchmarks/lag.py measures this). The cost: each of its data tests
    evaluates the view again.
#}
{{ config(materialized='view') }}

with

source as (

    select * from {{ source('pipeline', 'minute_aggregates') }}

),

content_owners as (

    {{ content_owners_cte('source') }}

),

summed_across_runs as (

    select
        source.epoch_minute,
        source.content_id,
        content_owners.creator_id,
        content_owners.content_type,
        source.platform,
        source.country,
        {{ summed(minute_measure_columns(), 'source.') }},
        max(source.processed_at_ms) as last_processed_at_ms

    from source

    inner join content_owners
        on source.content_id = content_owners.content_id

    group by 1, 2, 3, 4, 5, 6

),

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        cast({{ epoch_minute_to_timestamp('epoch_minute') }} as date) as minute_date,
        content_id,
        creator_id,
        content_type,
        platform,
        country,
        {{ minute_measure_columns() | join(',\n        ') }},
        last_processed_at_ms

    from summed_across_runs

)

select * from final
