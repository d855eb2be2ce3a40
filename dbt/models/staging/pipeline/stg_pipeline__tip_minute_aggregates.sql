{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['epoch_minute', 'creator_id', 'currency'] %}

{{ incremental_staging_config('tip_minute_aggregates', key_columns) }}

with

source as (

    {{ partials_to_merge(
        'tip_minute_aggregates', key_columns, key_columns + ['tips', 'tips_amount_minor']
    ) }}

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

{{ select_build_stamped('final') }}
