with

source as (

    select * from {{ source('pipeline', 'creator_minute_aggregates') }}

    where {{ committed_runs_only() }}

),

summed_across_runs as (

    select
        epoch_minute,
        creator_id,
        platform,
        country,
        {{ summed(['follows', 'unfollows']) }},
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3, 4

),

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        creator_id,
        platform,
        country,
        follows,
        unfollows,
        follows - unfollows as net_followers,
        last_processed_at_ms

    from summed_across_runs

)

select * from final
