{# A query, not a CTE, read twice: see merged_minute_aggregates. #}
{% set committed_lake_rows %}
(
    select * from {{ source('pipeline', 'reaction_minute_aggregates') }}
    where {{ committed_runs_only() }}
)
{% endset %}

with

content_owners as (

    {{ content_owners_cte(committed_lake_rows) }}

),

{# The lake's own keys first, then the owner (one per content): merged_minute_aggregates. #}
summed_across_runs as (

    select
        epoch_minute,
        content_id,
        reaction,
        {{ summed(['reactions']) }},
        max(processed_at_ms) as last_processed_at_ms

    from {{ committed_lake_rows }} as lake_rows

    group by 1, 2, 3

),

final as (

    select
        summed_across_runs.epoch_minute,
        {{ epoch_minute_to_timestamp('summed_across_runs.epoch_minute') }} as minute_start_at,
        summed_across_runs.content_id,
        content_owners.creator_id,
        content_owners.content_type,
        summed_across_runs.reaction,
        summed_across_runs.reactions,
        summed_across_runs.last_processed_at_ms

    from summed_across_runs

    inner join content_owners
        on summed_across_runs.content_id = content_owners.content_id

)

select * from final
