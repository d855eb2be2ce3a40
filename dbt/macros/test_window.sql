{#
    Data tests of an incremental model check, on a plain (incremental) build, only the rows
    that build wrote: every incremental model stamps the rows it writes with the build's
    start (`built_at_ms`, macros/time.sql build_started_epoch_ms), so those are the rows
    with the table's newest stamp. A row the build did not write is the row an earlier
    build wrote and tested; testing it again on every build only re-reads the history
    (over a month of it, about half of an hourly build's test time was that).

    Why that is enough for the tests here:
    - row rules (not null, between, business rules, relationships) hold for an unchanged
      row if they held when it was written;
    - a primary key: an upsert deletes every built row of the keys it writes, so a
      duplicate can only arise among the rows it writes.

    The rows an earlier build wrote were tested only if that build's tests passed, so the
    refresh loop tests every row on its first build and after a failed one:
    `--vars '{marquee_test_all_rows: true}'` (refresh.loop). A `--full-refresh` writes,
    and therefore tests, every row. A test's own `where` config still applies.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if tests_only_rows_written(relation) -%}
        {%- do conditions.append(
            'built_at_ms >= (select max(built_at_ms) from ' ~ relation ~ ')'
        ) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# Whether this data test, on this build, checks only the rows of `relation` it wrote. #}
{% macro tests_only_rows_written(relation) -%}
    {%- if flags.FULL_REFRESH or var('marquee_test_all_rows', false) or not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- set parent = graph.nodes.get(attached) if attached else none -%}
    {{ return(parent is not none and parent.config.materialized == 'incremental') }}
{%- endmacro %}
