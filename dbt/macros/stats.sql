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
        when {{ denominator }} > 0
            then 100.0 * {{ numerator }} / {{ denominator }}
    end
{%- endmacro %}


{# numerator / denominator as a double, NULL when the denominator is 0 or NULL. #}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then 1.0 * {{ numerator }} / {{ denominator }}
    end
{%- endmacro %}
