{{ config(materialized='table') }}
{# A table, not a view: the DuckDB source lists a file relative to the project directory. #}

with

source as (

    select * from {{ source('catalog', 'creators') }}

),

ranked as (

    select
        *,
        row_number() over (partition by creator_id order by name, created_at) as n_record

    from source

    where creator_id is not null

),

final as (

    select
        cast(creator_id as {{ dbt.type_string() }}) as creator_id,
        cast(name as {{ dbt.type_string() }}) as creator_name,
        {{ iso_to_utc_timestamp('created_at') }} as created_at

    from ranked

    where n_record = 1

)

{{ select_change_stamped('final', 'creator_id', ['creator_name', 'created_at']) }}
