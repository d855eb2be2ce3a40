{#
    One row per live stream with at least one heartbeat that carried live_latency_ms: how
    many did, and the p50 and p95 of their latencies over the whole stream (METRICS.md
    "Live latency": over every heartbeat, not an average of minutes), exact
    (macros/counted_percentiles.sql). live_sessions joins it.

    Incremental: a stream's percentiles depend on every one of its minutes, so the unit
    of rebuild is the stream, not a time range. The streams recomputed are those with a
    staging row (stg_pipeline__live_latency_minute_values) stamped after this table's
    newest stamp (macros/incremental.sql built_max), each over all of its rows; any other
    stream's values have not changed since its row was written. Staging only adds to or
    grows a stream's rows, so no row is left behind.
#}

{{ incremental_mart_config(['live_id']) }}

with

{% if is_incremental() -%}
changed_lives as (

    select distinct content_id

    from {{ ref('stg_pipeline__live_latency_minute_values') }}

    where built_at_ms > {{ built_max('built_at_ms') }}

),
{%- endif %}

latency_values as (

    select * from {{ ref('stg_pipeline__live_latency_minute_values') }}

    {% if is_incremental() -%}
    where content_id in (select changed_lives.content_id from changed_lives)
    {%- endif %}

),

session_latency as (

    {{ counted_percentiles(
        'latency_values', ['content_id'], 'live_latency_ms', 'heartbeats',
        [('live_latency_p50_ms', 0.5), ('live_latency_p95_ms', 0.95)]
    ) }}

),

final as (

    select
        content_id as live_id,
        cast(total as {{ dbt.type_bigint() }}) as latency_heartbeats,
        live_latency_p50_ms,
        live_latency_p95_ms

    from session_latency

)

{{ select_build_stamped('final') }}
