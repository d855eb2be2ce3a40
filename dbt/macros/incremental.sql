{#
    Change-driven incremental builds over time-keyed rows (minutes, days).

    Every incremental model and every staging model stamps the rows it writes with its
    build's start (`built_at_ms`, macros/time.sql). A model over minutes or days rebuilds
    every row from the earliest time at which any of its inputs changed since it was last
    built: the earliest time of an input row stamped after this table's newest stamp. An
    earlier row has no changed input, so it already is what a full refresh would write.
    That holds because a changed input row never leaves an output row behind at a later
    time: minute and day rows never move, and a view's start or a viewer's first view only
    moves earlier (a late event).

    So a build after an hour of new data rebuilds that hour's minutes and one day, and a
    backfill or a quarantine replay of any age reaches every row it changes.

    `changed_since_cte(inputs)` opens the model's CTEs on incremental runs with
    `changed_since` (one row: changed_ms, that time in epoch ms, NULL when no input
    changed), computed once and read by every filter below. `inputs`: a list of
    {'relation': ref(...), 'time_ms': the row's time in epoch ms, 'where': an optional
    condition, 'stamp': the stamp column when not built_at_ms}.
#}
{% macro changed_since_cte(inputs) -%}
    {%- if is_incremental() -%}
    {%- set watermark = built_max('built_at_ms') %}
changed_since as (

    select min(changed_inputs.changed_ms) as changed_ms

    from (
        {%- for input in inputs %}
        select min({{ input.time_ms }}) as changed_ms
        from {{ input.relation }}
        where
            {{ input.get('stamp', 'built_at_ms') }} > {{ watermark }}
            {%- if input.get('where') %} and ({{ input.where }}){% endif %}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as changed_inputs

),
    {%- endif %}
{%- endmacro %}

{#
    The UTC day of changed_since.changed_ms, as a scalar subquery (NULL when nothing
    changed); incremental runs only.
#}
{% macro changed_since_day() -%}
    (select cast({{ epoch_ms_to_timestamp('changed_since.changed_ms') }} as date) from changed_since)
{%- endmacro %}

{#
    `<minute_column> >= <the epoch minute of changed_since>` on incremental runs (no row
    when no input changed), `1 = 1` on full builds.
#}
{% macro changed_minutes_filter(minute_column) -%}
    {%- if is_incremental() -%}
        {{ minute_column }} >= (
            select {{ epoch_ms_to_epoch_minute('changed_since.changed_ms') }} from changed_since
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#
    `<day_column> >= <the UTC day of changed_since>` on incremental runs, `1 = 1` on full
    builds: daily marts rebuild whole days, never a day cut short (a partial sum would
    overwrite the day's row).
#}
{% macro changed_days_filter(day_column) -%}
    {%- if is_incremental() -%}
        {{ day_column }} >= {{ changed_since_day() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#
    The config of an incremental mart or intermediate model: an upsert on `unique_key`
    (`upsert_strategy()`, unless `strategy` names another) and new columns appended to the
    built table. The model stamps every row it writes with `built_at_ms`, which is how the
    data tests of a plain build find the rows it wrote (macros/test_window.sql).
#}
{% macro incremental_mart_config(unique_key, strategy=none) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=strategy or upsert_strategy(),
        unique_key=unique_key,
        on_schema_change='append_new_columns',
    ) }}
{%- endmacro %}

{#
    How an incremental build writes its rows over the built table: an upsert on the
    model's unique key. Snowflake: MERGE. DuckDB: delete the keys, then insert the rows
    (dbt's delete+insert), the same upsert: dbt-duckdb's MERGE is orders of magnitude
    slower on a mart's keys (docs/decisions/0004, "Measurements behind the code").
#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'marquee')()) }}
{%- endmacro %}

{% macro default__upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{% macro duckdb__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{#
    The newest `column` of the built table, as SQL, for change detection on incremental
    builds (0 when the table has no rows). A table built before it carried the column
    (on_schema_change adds it only after this build's query runs) reads 0: every row in
    scope counts as changed once. The column is qualified, so a missing one can never bind
    to the outer query's column of the same name.
#}
{% macro built_max(column) -%}
    {{ return(adapter.dispatch('built_max', 'marquee')(column)) }}
{%- endmacro %}

{# Asks the warehouse for the table's columns as the model compiles. #}
{% macro default__built_max(column) -%}
    {%- if built_has_column(column) -%}
        (select coalesce(max(built_rows.{{ column }}), 0) from {{ this }} as built_rows)
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{#
    DuckDB: the query itself supplies the column when the table lacks it (a union by name
    with one NULL row), so compiling asks nothing of the warehouse (a DESCRIBE through
    dbt per watermark would add up over every incremental model).
#}
{% macro duckdb__built_max(column) -%}
    (
        select coalesce(max(built_rows.{{ column }}), 0)
        from (
            select * from {{ this }}
            union all by name
            select cast(null as {{ dbt.type_bigint() }}) as {{ column }}
        ) as built_rows
    )
{%- endmacro %}

{# Whether the built table (`this`) has `column` yet; see built_max. #}
{% macro built_has_column(column) -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(column | lower in names) }}
{%- endmacro %}

{#
    On an incremental build of a mart over the `playback_sessions` mart that keeps whole content
    together (per content, or per content and day), the content whose views can have
    changed since this table was built: those with a view that `playback_sessions` wrote since, its
    `built_at_ms` newer than any this table has read (the mart keeps the newest it read as
    `views_built_at_ms`). `playback_sessions` rewrites exactly the views that can change: those a new
    pipeline run touched and those still open, whose state moves with "now". Every view of
    any other content is final, and so are its rows; a view never changes content. A
    table built before it had `views_built_at_ms` reads as if every content changed, once.
    `content_id in (...)` on incremental runs; `1 = 1` on full builds.
#}
{% macro changed_content_filter() -%}
    {%- if is_incremental() -%}
        content_id in (
            select rewritten_views.content_id
            from {{ ref('playback_sessions') }} as rewritten_views
            where rewritten_views.built_at_ms > {{ built_max('views_built_at_ms') }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#
    A post-hook for a mart over `playback_sessions` that rebuilds, per content, every day from the
    first it rebuilds (changed_days_filter and changed_content_filter): deletes the rows
    of those days and content that this build did not write. A view's start only moves
    earlier (a late event), so a (day, content) row can lose its last view to an earlier
    day; the upsert writes only the keys that still have views, and would leave that row
    behind where a full refresh has none. The rows this build wrote carry its stamp, the
    earliest of their days is the first day it rebuilt (the earliest rewritten view is
    one of them), and their content is the content it rebuilt.
#}
{% macro delete_rows_left_behind(day_column) -%}
    {%- set stamp = build_started_epoch_ms() -%}
    delete from {{ this }}
    where
        built_at_ms < {{ stamp }}
        and {{ day_column }} >= (
            select min(written.{{ day_column }}) from {{ this }} as written
            where written.built_at_ms = {{ stamp }}
        )
        and content_id in (
            select written.content_id from {{ this }} as written
            where written.built_at_ms = {{ stamp }}
        )
{%- endmacro %}

{#
    The same for a mart that rebuilds every row of every day from the first it rebuilds
    (changed_days_filter alone, delete+insert on the day): deletes the rows of those days
    it did not write. An ad play moves to an earlier day when its impression arrives late,
    and a day that loses its last play has no row for the delete+insert to replace. The
    earliest day written is the first day rebuilt (the earliest changed input writes a row
    there: a play's day is its first event's).
#}
{% macro delete_days_left_behind(day_column) -%}
    {%- set stamp = build_started_epoch_ms() -%}
    delete from {{ this }}
    where
        built_at_ms < {{ stamp }}
        and {{ day_column }} >= (
            select min(written.{{ day_column }}) from {{ this }} as written
            where written.built_at_ms = {{ stamp }}
        )
{%- endmacro %}

{#
    The keys whose `value_columns` differ between the CTE `built` (rows of this table) and
    the CTE `recomputed` (the same values computed again), a key missing on one side
    counting as 0 there: the rows an incremental build must rewrite for those values.
    Numeric columns only (NULL compares as 0).
#}
{% macro keys_with_changed_values(built, recomputed, key_columns, value_columns) -%}
    select
        {% for key in key_columns -%}
        coalesce({{ built }}.{{ key }}, {{ recomputed }}.{{ key }}) as {{ key }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from {{ built }}
    full outer join {{ recomputed }}
        on {{ keys_match(built, recomputed, key_columns) }}
    where {% for column in value_columns -%}
        coalesce({{ built }}.{{ column }}, 0) <> coalesce({{ recomputed }}.{{ column }}, 0)
        {%- if not loop.last %} or {% endif %}
    {%- endfor %}
{%- endmacro %}

{# `<left>.<key> = <right>.<key> and ...` over `key_columns`. #}
{% macro keys_match(left, right, key_columns) -%}
    {%- for key in key_columns -%}
        {{ left }}.{{ key }} = {{ right }}.{{ key }}{% if not loop.last %} and {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#
    `select 1 from <relation> [as <alias>]` where its `key_columns` equal those of `other`:
    the body of an exists() that keeps the rows of `other` whose key is in `relation`.
#}
{% macro same_key_in(relation, other, key_columns, alias=none) -%}
    select 1 from {{ relation }}{% if alias %} as {{ alias }}{% endif %}
    where {{ keys_match(alias or relation, other, key_columns) }}
{%- endmacro %}

{#
    The hashes of the keys of `rows` (a relation or parenthesised query of partials) that
    more than one partial carries, as `key_hash`. Almost every key of a merge has one
    partial, which is its own merge: only these keys are merged, the rest pass through.

    Grouping by one 64-bit hash is cheaper than by the key columns. Two keys with the same
    hash only send a key with one partial through the merge, which gives it the same row:
    routing by hash is exact whatever the collisions. has_several_partials() tests a row.
#}
{% macro keys_of_several_partials(rows, key_columns) -%}
    select {{ key_hash('partial_rows', key_columns) }} as key_hash
    from {{ rows }} as partial_rows
    group by 1
    having count(*) > 1
{%- endmacro %}

{# Whether the key of the row `alias` is among `several_partial_keys` (keys_of_several_partials). #}
{% macro has_several_partials(several_partial_keys, alias, key_columns) -%}
    {{ key_hash(alias, key_columns) }} in (select several.key_hash from {{ several_partial_keys }} as several)
{%- endmacro %}

{#
    One 64-bit hash of the `key_columns` of `alias` (unqualified when `alias` is none):
    `hash(...)` on DuckDB and Snowflake alike.
#}
{% macro key_hash(alias, key_columns) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    hash({% for key in key_columns %}{{ prefix }}{{ key }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
