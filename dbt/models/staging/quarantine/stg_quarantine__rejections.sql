{{ config(materialized='table') }}
{# A table, not a view: the DuckDB source lists a file relative to the project directory. #}

with

source as (

    select * from {{ source('quarantine', 'rejections') }}

),

final as (

    select
        cast(quarantined_at_ms as {{ dbt.type_bigint() }}) as quarantined_at_ms,
        {{ epoch_ms_to_timestamp('quarantined_at_ms') }} as quarantined_at,
        cast(app_id as {{ dbt.type_string() }}) as app_id,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(detail as {{ dbt.type_string() }}) as detail,
        cast(payload as {{ dbt.type_string() }}) as payload,
        cast(index as {{ dbt.type_bigint() }}) as event_index,
        index is null as is_whole_body

    from source

)

select * from final
