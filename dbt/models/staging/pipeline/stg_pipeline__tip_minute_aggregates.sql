with

source as (

    select * from {{ source('pipeline', 'tip_minute_aggregates') }}

    where {{ committed_runs_only() }}

),

summed_across_runs as (

    select
        epoch_minute,
        creator_id,
        currency,
        {{ summed(['tips', 'tips_amount_minor']) }},
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3

),

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        creator_id,
        currency,
        tips,
        tips_amount_minor,
        last_processed_at_ms

    from summed_across_runs

)

select * from final
