{#
    Fails with one row per listed expression (a business rule over one row) that is false
    not true (false or NULL) for some row, with the number of such rows, as
    expression_is_true does for one. One scan for all of a model's rules.
#}
{% test expressions_are_true(model, expressions) %}

{%- set checks = [] -%}
{%- for expression in expressions -%}
    {%- do checks.append([expression, 'not coalesce(' ~ expression ~ ', false)']) -%}
{%- endfor %}

{{ checks_failing(model, checks) }}

{% endtest %}
