{#
    The late-data lookback of incremental models.

    The API rejects events older than its lateness horizon (settings.lateness_horizon_s,
    7 days) or more than its future horizon (300 s) ahead, so no new event can land before
    (newest event time already built) - (lateness + future horizons). An incremental run
    rebuilds every row from that point on; older rows can no longer change, which is what
    makes incremental runs equal a full refresh. Set the vars when the API's horizons
    change.
#}
{% macro lookback_ms() -%}
    {{ return((var('marquee_lateness_horizon_s', 604800) + var('marquee_future_horizon_s', 300)) * 1000) }}
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
    `<column> >= <cutoff>` on incremental runs, where the cutoff is the newest value of
    `this_column` (epoch ms, or epoch minutes with unit='minute') in the built table minus
    the lookback; `1 = 1` on full builds.
#}
{% macro incremental_lookback_filter(column, this_column, unit='ms') -%}
    {%- if is_incremental() -%}
        {%- set divisor = 60000 if unit == 'minute' else 1 -%}
        {{ column }} >= (
            select coalesce(max({{ this_column }}), 0) - {{ (lookback_ms() / divisor) | int }}
            from {{ this }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#
    `<day_column> >= <the UTC day of the cutoff>` on incremental runs: daily marts rebuild
    whole days, never a day cut by the lookback (a partial sum would overwrite the day's
    row). `this_ms_expression` is the newest epoch-ms time built, over `this`.
#}
{% macro incremental_lookback_day_filter(day_column, this_ms_expression) -%}
    {%- if is_incremental() -%}
        {{ day_column }} >= {{ lookback_start_day(this_ms_expression) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{# The UTC day of the cutoff, as a scalar subquery over `this` (incremental runs only). #}
{% macro lookback_start_day(this_ms_expression) -%}
    (
        select cast({{ epoch_ms_to_timestamp(
            'coalesce(max(' ~ this_ms_expression ~ '), 0) - ' ~ lookback_ms()
        ) }} as date)
        from {{ this }}
    )
{%- endmacro %}

{#
    How an incremental build writes its rows over the built table: an upsert on the
    model's unique key. Snowflake: MERGE. DuckDB: delete the keys, then insert the rows
    (dbt's delete+insert), the same upsert: in dbt-duckdb the MERGE of the `views` mart
    over a month of history (81,000 views in the lookback) ran over 10 minutes without
    finishing, twice, while the same upsert as delete+insert takes under a second.
#}
{% macro upsert_strategy() -%}
    {{ return('delete+insert' if target.type == 'duckdb' else 'merge') }}
{%- endmacro %}

{#
    The newest `column` of the built table, as SQL, for change detection on incremental
    builds (0 when the table has no rows). A table built before it carried the column
    (on_schema_change adds it only after this build's query runs) reads 0: every row in
    scope counts as changed once. The column is qualified, so a missing one can never bind
    to the outer query's column of the same name.
#}
{% macro built_max(column) -%}
    {%- if built_has_column(column) -%}
        (select coalesce(max(built_rows.{{ column }}), 0) from {{ this }} as built_rows)
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{# Whether the built table (`this`) has `column` yet; see built_max. #}
{% macro built_has_column(column) -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(column | lower in names) }}
{%- endmacro %}

{#
    On an incremental build of a mart over the `views` mart that keeps whole content
    together (per content, or per content and day), the content whose views can have
    changed since this table was built: those with a view that `views` wrote since, its
    `built_at_ms` newer than any this table has read (the mart keeps the newest it read as
    `views_built_at_ms`). `views` rewrites exactly the views that can change: those a new
    pipeline run touched and those still open, whose state moves with "now". Every view of
    any other content is final, and so are its rows; a view never changes content. A
    table built before it had `views_built_at_ms` reads as if every content changed, once.
    `content_id in (...)` on incremental runs; `1 = 1` on full builds.
#}
{% macro changed_content_filter() -%}
    {%- if is_incremental() -%}
        content_id in (
            select rewritten_views.content_id
            from {{ ref('views') }} as rewritten_views
            where rewritten_views.built_at_ms > {{ built_max('views_built_at_ms') }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
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
    The keys of `rows` (a relation or parenthesised query of partials) that more than one
    partial carries. Almost every key of a merge has one partial, which is its own merge:
    merging only these keys, and passing the rest through, halved the full merges of the
    minute and view staging models.
#}
{% macro keys_of_several_partials(rows, key_columns) -%}
    select {{ key_columns | join(', ') }}
    from {{ rows }} as partial_rows
    group by {{ key_columns | join(', ') }}
    having count(*) > 1
{%- endmacro %}
