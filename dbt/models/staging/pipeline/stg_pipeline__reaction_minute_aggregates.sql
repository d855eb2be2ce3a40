{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['epoch_minute', 'content_id', 'reaction'] %}

{{ incremental_staging_config('reaction_minute_aggregates', key_columns) }}

with

{{ merged_content_minutes('reaction_minute_aggregates', key_columns, ['reactions']) }},

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

{{ select_build_stamped('final') }}
