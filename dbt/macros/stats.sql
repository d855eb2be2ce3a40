{#
    Statistics both warehouses spell differently.
#}

{# Continuous percentile (linear interpolation) of a column within a group, `fraction` in [0, 1]. #}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'marquee')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}


{#
    100 * numerator / denominator as a double, NULL when the denominator is 0 or NULL: a
    rate over nothing is unknown, not 0 %.
#}
{% macro pct(numerator, denominator) -%}
    case
        when ({{ denominator }}) > 0
            then 100.0 * ({{ numerator }}) / ({{ denominator }})
    end
{%- endmacro %}


{# numerator / denominator as a double, NULL when the denominator is 0 or NULL. #}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when ({{ denominator }}) > 0
            then 1.0 * ({{ numerator }}) / ({{ denominator }})
    end
{%- endmacro %}


{#
    The `fraction` percentile of the startup-time histogram (the summed bucket columns of
    a set of minutes), by linear interpolation inside the bucket that holds it; the open
    last bucket [8000 ms, inf) reports its lower edge. NULL when the histogram is empty.
    `prefix` qualifies the bucket columns (e.g. 'sum_').
#}
{% macro histogram_percentile(fraction, prefix='') -%}
    {%- set columns = [] -%}
    {%- for column in startup_bucket_columns() %}{% do columns.append(prefix ~ column) %}{% endfor -%}
    {%- set edges = startup_bucket_edges_ms() -%}
    {%- set total = '(' ~ (columns | join(' + ')) ~ ')' -%}
    case
        when {{ total }} = 0 then null
    {%- set cumulative = [] %}
    {%- for column in columns %}
        {%- set below = '(' ~ ((cumulative | join(' + ')) if cumulative else '0') ~ ')' %}
        {%- do cumulative.append(column) %}
        {%- if loop.last %}
        else {{ edges[loop.index0] }}
        {%- else %}
        when {{ fraction }} * {{ total }} <= {{ '(' ~ (cumulative | join(' + ')) ~ ')' }}
            then {{ edges[loop.index0] }} + ({{ fraction }} * {{ total }} - {{ below }})
                * {{ edges[loop.index0 + 1] - edges[loop.index0] }}.0 / {{ column }}
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}
