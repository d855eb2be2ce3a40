{#
    The rows a data test checks: dbt's `where` config, with one placeholder this project
    resolves (dbt's documented way to use custom logic in `where`, which the yml rendering
    context cannot call a macro for).

    `where: "__rows_written_by_this_build__"` is set on every data test of an incremental
    model, in the model's yml. It keeps the rows the newest build wrote: every incremental
    model stamps the rows it writes with the build's start (`built_at_ms`, macros/time.sql
    build_started_epoch_ms), so those are the rows with the table's newest stamp. Any other
    row an earlier build wrote and tested:
    - row rules (not null, between, business rules, relationships) hold for an unchanged
      row if they held when it was written;
    - a primary key: an upsert deletes every built row of the keys it writes, so a
      duplicate can only arise among the rows it writes.

    An earlier build's rows were tested clean only if that build's tests passed, so the
    placeholder means every row (`true`) on a `--full-refresh` (which writes every row)
    and with `--vars '{marquee_test_all_rows: true}'`, which the refresh loop passes on its
    first cycle and after one that was not clean (refresh.loop). A test without the
    placeholder checks every row of its model, whatever its materialization.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__rows_written_by_this_build__' in where -%}
            {%- set where = where | replace(
                '__rows_written_by_this_build__', rows_written_by_this_build(relation)
            ) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# The condition `__rows_written_by_this_build__` stands for, on this build. #}
{% macro rows_written_by_this_build(relation) -%}
    {%- if flags.FULL_REFRESH or var('marquee_test_all_rows', false) -%}
        {{ return('true') }}
    {%- endif -%}
    {{ return('built_at_ms >= (select max(built_at_ms) from ' ~ relation ~ ')') }}
{%- endmacro %}
