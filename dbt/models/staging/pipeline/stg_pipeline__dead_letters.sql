with

source as (

    select * from {{ source('pipeline', 'dead_letters') }}

    where {{ committed_runs_only() }}

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
