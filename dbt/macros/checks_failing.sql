{#
    The body of the row_rules test (tests/generic/row_rules.sql, which says why one test
    for many checks): counts, in one scan of `model`, the rows for which each check's
    condition holds, and returns one row (failed_check, failing_rows) per check with any.
    `checks` is a list of [label, condition]. An empty model fails nothing; a NULL
    condition is no failure (row_rules says how NULLs count).
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
