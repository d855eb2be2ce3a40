{#
    The body of the multi-column tests: counts, in one scan of `model`, the rows for which
    each check's condition holds, and returns one row (check, failing_rows) per check with
    any. `checks` is a list of [label, condition]. An empty model fails nothing; a NULL
    condition is no failure (the callers say how NULLs count).

    Why one test for many columns: dbt spends about as long scheduling, compiling and
    recording a test as DuckDB spends running a simple one, so a test per column made a
    build's fixed cost grow with every column of every mart.
#}
{% macro checks_failing(model, checks) -%}

with

counts as (

    select
        {%- for check in checks %}
        sum(case when {{ check[1] }} then 1 else 0 end) as failing_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from {{ model }}

)

{% for check in checks -%}
select '{{ check[0] | replace("'", "''") }}' as failed_check, failing_{{ loop.index }} as failing_rows
from counts
where failing_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{%- endmacro %}

{#
    checks_failing with the same condition (a format string, `{0}` is the column) for each
    column, labelled by the column.
#}
{% macro columns_failing(model, columns, condition) -%}
    {%- set checks = [] -%}
    {%- for column in columns -%}
        {%- do checks.append([column, condition.format(column)]) -%}
    {%- endfor -%}
    {{ checks_failing(model, checks) }}
{%- endmacro %}
