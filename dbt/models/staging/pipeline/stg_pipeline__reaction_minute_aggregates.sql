with

source as (

    select * from {{ source('pipeline', 'reaction_minute_aggregates') }}

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
        source.reaction,
        {{ summed(['reactions'], 'source.') }},
        max(source.processed_at_ms) as last_processed_at_ms

    from source

    inner join content_owners
        on source.content_id = content_owners.content_id

    group by 1, 2, 3, 4, 5

),

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        content_id,
        creator_id,
        content_type,
        reaction,
        reactions,
        last_processed_at_ms

    from summed_across_runs

)

select * from final
