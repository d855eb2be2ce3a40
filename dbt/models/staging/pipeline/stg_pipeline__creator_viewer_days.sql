{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['creator_id', 'viewer_key', 'day', 'activity'] %}

{{ incremental_staging_config('creator_viewer_days', key_columns, none) }}

with

source as (

    {% if staging_is_incremental() -%}
    {{ new_partials_with_touched_rows(pending_lake_rows('creator_viewer_days'), key_columns, key_columns) }}
    {%- else -%}
    select * from {{ pending_lake_rows('creator_viewer_days') }} as lake_rows
    {%- endif %}

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
