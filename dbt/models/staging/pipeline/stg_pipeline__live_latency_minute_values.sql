{#
    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the keys they touch.
#}
{% set key_columns = ['epoch_minute', 'content_id', 'live_latency_ms'] %}

{{ incremental_staging_config('live_latency_minute_values', key_columns) }}

with

{{ merged_content_minutes('live_latency_minute_values', key_columns, ['heartbeats']) }},

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        content_id,
        creator_id,
        content_type,
        live_latency_ms,
        heartbeats,
        last_processed_at_ms

    from combined

)

{{ select_build_stamped('final') }}
