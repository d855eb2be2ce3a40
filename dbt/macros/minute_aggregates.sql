{#
    The rows of every run of the per-minute content aggregates summed at their grain
    (minute x content x platform x country), with the content's creator and type resolved
    (content_owners_cte). Shared by stg_pipeline__minute_aggregates (the build's snapshot)
    and stg_pipeline__minute_aggregates_live (every landed run, for serving).

    `lake_rows` is a parenthesised query, not a CTE name: it is read twice (the sums and
    the owners), and DuckDB materialises a CTE read twice, which costs several times the
    CPU of reading the Parquet files twice.

    Sums first, then the owners: the owner is one per content, so joining it after the
    group-by gives the same rows, and grouping the lake rows by their own keys straight
    off the files is an order of magnitude cheaper than grouping the joined rows.
#}
{% macro merged_minute_aggregates(lake_rows, stamped=false) -%}

{{ summed_content_minutes(lake_rows, minute_key_columns(), minute_measure_columns()) }},

{{ minute_aggregates_final(stamped) }}

{%- endmacro %}

{#
    The last CTE and select of the minute aggregates over `combined` (the CTE that
    summed_content_minutes or remerged_content_minutes ends with): the minute's timestamp
    and UTC day, in the table's column order; `stamped` adds the build stamp of the
    incremental table (`built_at_ms`, macros/test_window.sql).
#}
{% macro minute_aggregates_final(stamped=false) -%}

final as (

    select
        epoch_minute,
        {{ epoch_minute_to_timestamp('epoch_minute') }} as minute_start_at,
        cast({{ epoch_minute_to_timestamp('epoch_minute') }} as date) as minute_date,
        content_id,
        creator_id,
        content_type,
        platform,
        country,
        {% for column in minute_measure_columns() -%}
        {{ column }},
        {% endfor -%}
        last_processed_at_ms

    from combined

)

{% if stamped -%}
{{ select_build_stamped('final') }}
{%- else -%}
select * from final
{%- endif %}

{%- endmacro %}

{#
    The CTEs up to `combined`: the rows of a per-minute lake table whose creator and
    content type are attributes of the content, summed at their grain (`key_columns`,
    `measure_columns`, last_processed_at_ms), with the content's owner (creator_id,
    content_type). The full-build twin of remerged_content_minutes. `lake_rows` is a
    parenthesised query (see above).
#}
{% macro summed_content_minutes(lake_rows, key_columns, measure_columns) -%}

content_owners as (

    {{ content_owners_cte(lake_rows) }}

),

{# A key one run wrote is its own sum; only the others are grouped (8,396,760 keys of
   8,412,131 rows over a month of history: CPU 51 -> 27 s, 21 s routed by key hash). #}
multi_run_keys as (

    {{ keys_of_several_partials(lake_rows, key_columns) }}

),

summed_across_runs as (

    select
        {{ key_columns | join(', ') }},
        {{ summed(measure_columns) }},
        max(processed_at_ms) as last_processed_at_ms

    from {{ lake_rows }} as lake_rows

    where {{ has_several_partials('multi_run_keys', 'lake_rows', key_columns) }}

    group by {{ key_columns | join(', ') }}

    union all

    select
        {{ key_columns | join(', ') }},
        {{ summed(measure_columns, single_row=true) }},
        processed_at_ms as last_processed_at_ms

    from {{ lake_rows }} as lake_rows

    where not {{ has_several_partials('multi_run_keys', 'lake_rows', key_columns) }}

),

combined as (

    {{ with_content_owners('summed_across_runs') }}

)

{%- endmacro %}

{# The rows of the CTE `summed`, with the owner of their content (CTE content_owners). #}
{% macro with_content_owners(summed) -%}

    select
        {{ summed }}.*,
        content_owners.creator_id,
        content_owners.content_type

    from {{ summed }}

    inner join content_owners
        on {{ summed }}.content_id = content_owners.content_id

{%- endmacro %}

{#
    The incremental twin of the merge above (macros/incremental_staging.sql), for a
    per-minute lake table whose creator and content type are attributes of the content
    (content_owners_cte): the CTEs up to `combined`, the re-merged rows of the keys the new
    runs touch (keys, `measure_columns`, last_processed_at_ms, creator_id, content_type).

    The owner of a content is re-resolved from the new rows and its built rows (each
    carries the owner resolved before, which is the greatest named creator so far when the
    catalogue does not know the content), so it equals the full merge's. When it changes
    (the first run to name a creator for content seen only through shares, or a catalogue
    record new or changed since the table was built: macros/catalogue_changes.sql), the
    content's built rows of untouched keys are rewritten with the new owner too.
#}
{% macro remerged_content_minutes(new_lake_rows, key_columns, measure_columns) -%}

new_rows as {{ new_lake_rows }},

built_rows_of_contents as (

    select *
    from {{ this }}
    where
        content_id in (select content_id from new_rows)
        or content_id in (
            select changed_content.content_id
            from {{ ref('stg_catalog__content') }} as changed_content
            where changed_content.changed_at_ms > {{ built_max('built_at_ms') }}
        )

),

owner_evidence as (

    select content_id, creator_id, content_type from new_rows
    union all
    select content_id, creator_id, content_type from built_rows_of_contents

),

content_owners as (

    {{ content_owners_cte('owner_evidence') }}

),

partials as (

    {{ new_partials_with_touched_rows('new_rows', key_columns, key_columns + measure_columns) }}

),

summed_across_runs as (

    select
        {{ key_columns | join(', ') }},
        {{ summed(measure_columns) }},
        max(processed_at_ms) as last_processed_at_ms

    from partials

    group by {{ key_columns | join(', ') }}

),

remerged as (

    {{ with_content_owners('summed_across_runs') }}

),

reowned as (

    select
        {% for column in key_columns + measure_columns -%}
        built.{{ column }},
        {% endfor -%}
        built.last_processed_at_ms,
        content_owners.creator_id,
        content_owners.content_type

    from built_rows_of_contents as built

    inner join content_owners
        on built.content_id = content_owners.content_id

    where
        (built.creator_id <> content_owners.creator_id
            or built.content_type <> content_owners.content_type)
        and not exists ({{ same_key_in('new_rows', 'built', key_columns) }})

),

combined as (

    select * from remerged
    union all
    select * from reowned

)

{%- endmacro %}

{#
    The CTEs up to `combined` for the staging model of a per-content minute lake table
    (`lake_table`): the runs of this build summed at `key_columns` on a full build
    (summed_content_minutes), re-merged into the built rows of the keys they touch on a
    plain one (remerged_content_minutes).
#}
{% macro merged_content_minutes(lake_table, key_columns, measure_columns) -%}
    {%- if staging_is_incremental() -%}
    {{ remerged_content_minutes(lake_rows_this_run(lake_table), key_columns, measure_columns) }}
    {%- else -%}
    {{ summed_content_minutes(lake_rows_this_run(lake_table), key_columns, measure_columns) }}
    {%- endif -%}
{%- endmacro %}
