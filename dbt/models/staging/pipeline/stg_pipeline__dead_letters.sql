with

source as (

    select * from {{ source('pipeline', 'dead_letters') }}

),

final as (

    select
        run_id,
        segment,
        reason,
        payload

    from source

)

select * from final
