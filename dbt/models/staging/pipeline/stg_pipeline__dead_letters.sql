with

source as (

    select * from {{ lake_rows_once('dead_letters', committed_runs_only()) }} as lake_rows

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
