{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['creator_id', 'viewer_key', 'day', 'activity'] %}

{{ incremental_staging_config('creator_viewer_days', key_columns) }}

with

source as (

    {{ partials_to_merge('creator_viewer_days', key_columns, key_columns) }}

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

{{ select_build_stamped('final') }}
