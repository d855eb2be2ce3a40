{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['epoch_minute', 'creator_id', 'platform', 'country'] %}

{{ incremental_staging_config('creator_minute_aggregates', key_columns) }}

with

source as (

    {{ partials_to_merge(
        'creator_minute_aggregates', key_columns, key_columns + ['follows', 'unfollows']
    ) }}

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

{{ select_build_stamped('final') }}
