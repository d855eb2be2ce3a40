{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['story_id', 'viewer_key', 'fact', 'at_ms', 'reaction'] %}

{{ incremental_staging_config('story_viewer_facts', key_columns) }}

with

source as (

    {{ partials_to_merge('story_viewer_facts', key_columns, key_columns) }}

),

union_of_runs as (

    select
        story_id,
        viewer_key,
        fact,
        at_ms,
        reaction,
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3, 4, 5

),

final as (

    select * from union_of_runs

)

{{ select_build_stamped('final') }}
