{#
    Incremental, appending the rejections of the segments it has not read yet. A sealed
    segment never changes, and each row keeps the segment it came from, so the segments
    already in the table are the ledger: a build that fails writes none of its rows and
    the next reads the same segments again; none is read twice. Writing the table, not
    reading the files, is what a rewrite of every rejection would cost.

    A table built before it kept `segment` fails the build with dbt's schema-change error:
    run it once with --full-refresh.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}

with

source as (

    select * from {{ source('quarantine', 'rejections') }}

),

new_segments as (

    select * from source

    {% if is_incremental() and built_has_column('segment') -%}
    where not exists (
        select 1 from {{ this }} as read_rows where read_rows.segment = source.segment
    )
    {%- endif %}

),

final as (

    select
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(quarantined_at_ms as {{ dbt.type_bigint() }}) as quarantined_at_ms,
        {{ epoch_ms_to_timestamp('quarantined_at_ms') }} as quarantined_at,
        cast(app_id as {{ dbt.type_string() }}) as app_id,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(detail as {{ dbt.type_string() }}) as detail,
        cast(payload as {{ dbt.type_string() }}) as payload,
        cast(index as {{ dbt.type_bigint() }}) as event_index,
        index is null as is_whole_body

    from new_segments

)

{{ select_build_stamped('final') }}
