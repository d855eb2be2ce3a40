{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['epoch_minute', 'content_id', 'reaction'] %}

{{ incremental_staging_config('reaction_minute_aggregates', key_columns, 'epoch_minute * 60000') }}

with

{% if staging_is_incremental() %}

{{ remerged_content_minutes(pending_lake_rows('reaction_minute_aggregates'), key_columns, ['reactions']) }},

{% else %}

{# A query, not a CTE, read twice: see merged_minute_aggregates. #}
{% set committed_lake_rows = pending_lake_rows('reaction_minute_aggregates') %}

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

combined as (

    select
        summed_across_runs.*,
        content_owners.creator_id,
        content_owners.content_type

    from summed_across_runs

    inner join content_owners
        on summed_across_runs.content_id = content_owners.content_id

),

{% endif %}

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

    from combined

)

select * from final
