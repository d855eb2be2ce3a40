{#
    Data tests of an incremental model check, on an incremental build, only the rows the
    build can have rewritten: those whose time lies within the lookback of the newest row
    (macros/incremental.sql). Older rows cannot change any more (that is what makes an
    incremental run equal a full refresh) and were tested when they were written, so
    testing them again on every build only re-reads the whole history.

    The model names its time in epoch ms in `meta.test_window_ms` (an expression over its
    columns). A `--full-refresh` build, and every model without that meta, tests every
    row; a test's own `where` config still applies.

    A plain `dbt build` on a warehouse that has no such model yet builds it whole but
    tests only the window: marquee.refresh asks for --full-refresh when the warehouse file
    does not exist yet.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set window = incremental_test_window(relation) -%}
    {%- if window -%}
        {%- do conditions.append(window) -%}
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

{% macro incremental_test_window(relation) -%}
    {%- if flags.FULL_REFRESH or not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- set parent = graph.nodes.get(attached) if attached else none -%}
    {%- if parent is none or parent.config.materialized != 'incremental' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set time_ms = parent.config.meta.get('test_window_ms') -%}
    {%- if not time_ms -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(
        time_ms ~ ' >= (select max(' ~ time_ms ~ ') - ' ~ lookback_ms() ~ ' from ' ~ relation ~ ')'
    ) }}
{%- endmacro %}
