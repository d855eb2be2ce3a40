with

source as (

    select * from {{ source('pipeline', 'creator_viewer_days') }}

    where {{ committed_runs_only() }}

),

union_of_runs as (

    select
        creator_id,
        viewer_key,
        day,
        activity,
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3, 4

),

final as (

    select * from union_of_runs

)

select * from final
