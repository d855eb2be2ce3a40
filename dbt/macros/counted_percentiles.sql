{#
    Exact continuous percentiles (METRICS.md: linear interpolation at position p * (n - 1)
    of the sorted values) over values stored with a count each, as the lake keeps
    `live_latency_ms`: one row per distinct value and its number of heartbeats.

    A query over `rows` (a CTE name): one row per `group_columns`, with `total` (the sum of
    the counts) and one column per (alias, fraction) of `fractions`. Rounded to a
    thousandth of the value's unit (a microsecond for milliseconds), so the binary
    fraction of p * (n - 1) does not show (0.95 * 6 is 5.699999...).
#}
{% macro counted_percentiles(rows, group_columns, value_column, count_column, fractions) -%}
    {{ return(adapter.dispatch('counted_percentiles', 'marquee')(
        rows, group_columns, value_column, count_column, fractions
    )) }}
{%- endmacro %}

{#
    Portable: window functions and aggregates only. The value at 0-based rank k is the
    least value whose running count exceeds k; the percentile interpolates between the
    values at floor(position) and the next rank.
#}
{% macro default__counted_percentiles(rows, group_columns, value_column, count_column, fractions) -%}
    {%- set groups = group_columns | join(', ') -%}
    select
        {{ groups }},
        max(total) as total,
        {%- for alias, fraction in fractions %}
        {%- set position = '(' ~ fraction ~ ' * (total - 1))' %}
        {%- set low = 'min(case when running > floor(' ~ position ~ ') then value end)' %}
        round({{ low }} + max({{ position }} - floor({{ position }}))
            * (min(case when running > least(floor({{ position }}) + 1, total - 1) then value end)
                - {{ low }}), 3) as {{ alias }}{{ ',' if not loop.last }}
        {%- endfor %}

    from (

        select
            {{ groups }},
            cast({{ value_column }} as double) as value,
            sum({{ count_column }}) over (
                partition by {{ groups }} order by {{ value_column }}
                rows between unbounded preceding and current row
            ) as running,
            sum({{ count_column }}) over (partition by {{ groups }}) as total

        from {{ rows }}

        where {{ count_column }} > 0

    ) as ranked

    group by {% for _ in group_columns %}{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
{%- endmacro %}

{#
    DuckDB: each value repeated by its count, then quantile_cont, which interpolates at
    p * (n - 1) as METRICS.md does: one aggregate per group instead of a window sorted per
    group, several times cheaper here. It reads one row per counted value (a heartbeat),
    where the window reads one per distinct value.
#}
{% macro duckdb__counted_percentiles(rows, group_columns, value_column, count_column, fractions) -%}
    {%- set groups = group_columns | join(', ') -%}
    select
        {{ groups }},
        total,
        {%- for alias, fraction in fractions %}
        round(percentiles[{{ loop.index }}], 3) as {{ alias }}{{ ',' if not loop.last }}
        {%- endfor %}

    from (

        select
            {{ groups }},
            count(*) as total,
            quantile_cont(value, [{{ fractions | map(attribute=1) | join(', ') }}]) as percentiles

        from (
            select
                {{ groups }},
                cast({{ value_column }} as double) as value,
                unnest(range({{ count_column }}))

            from {{ rows }}

            where {{ count_column }} > 0
        ) as each_count

        group by {% for _ in group_columns %}{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}

    ) as per_group
{%- endmacro %}
