{#
    The QoE dimensions of views and how the marts bound them (models/docs/qoe_dimensions.md).
#}

{# Every dimension a QoE metric breaks down by, as columns of the `playback_sessions` mart. #}
{% macro qoe_dimensions() -%}
    {{ return(['content_type', 'platform', 'country', 'app_version', 'os', 'device']) }}
{%- endmacro %}

{# The free-text dimensions the marts fold to the day's top values and `other`. #}
{% macro qoe_folded_dimensions() -%}
    {{ return(['app_version', 'os', 'device']) }}
{%- endmacro %}

{# How many values per day and folded dimension the marts name (`--vars`). #}
{% macro qoe_top_values() -%}
    {{ return(var('marquee_qoe_top_values', 20) | int) }}
{%- endmacro %}

{#
    How many UTC days of minutes `dimension_minute_qoe` keeps (`--vars`): today (by the
    build's "now") and the days before it; the per-day mart keeps every day.
#}
{% macro qoe_minute_days() -%}
    {{ return(var('marquee_qoe_minute_days', 2) | int) }}
{%- endmacro %}

{# The first UTC day `dimension_minute_qoe` keeps, as a SQL date. #}
{% macro qoe_minute_window_start() -%}
    cast({{ dbt.dateadd(
        'day', 1 - qoe_minute_days(),
        'cast(' ~ epoch_ms_to_timestamp(now_epoch_ms()) ~ ' as date)'
    ) }} as date)
{%- endmacro %}

{#
    `grouping sets ((<grain>, d1), (<grain>, d2), ...)`: one breakdown per dimension, each
    row's metrics exact over its views, from one scan (a union of one group-by per
    dimension scanned the views once per dimension). sqlfluff's DuckDB dialect does not
    parse grouping sets; DuckDB and Snowflake run them.
#}
{% macro dimension_grouping_sets(grain_columns, dimensions) -%}
    grouping sets (
        {%- for dimension in dimensions %}
        ({{ (grain_columns + [dimension]) | join(', ') }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#
    The select-list items `dimension` and `dimension_value` of a query grouped by
    dimension_grouping_sets(): which dimension the row's grouping set holds, and its value.
#}
{% macro dimension_and_value(dimensions) -%}
    case
        {%- for dimension in dimensions %}
        when grouping({{ dimension }}) = 0 then '{{ dimension }}'
        {%- endfor %}
    end as dimension,
    case
        {%- for dimension in dimensions %}
        when grouping({{ dimension }}) = 0 then {{ dimension }}
        {%- endfor %}
    end as dimension_value
{%- endmacro %}

{#
    A post-hook for a mart that rebuilds whole days from the first day whose input changed
    (changed_days_filter): deletes the rows of those days this build did not write. A
    day's values can change (a late event moves a view to another day or gives it an
    earlier first event with other attributes, and the day's top values move), and the
    upsert writes only the keys that still have views; a full refresh has no such row.
    The earliest day this build wrote is the first day it rebuilt (that day holds the
    view that changed). With `keep_from` (a SQL date), the days before it go too: a mart
    that keeps a window of days drops a day once "now" has moved past it.
#}
{% macro delete_day_rows_left_behind(day_column, keep_from=none) -%}
    {%- set stamp = build_started_epoch_ms() -%}
    delete from {{ this }}
    where
        (
            built_at_ms < {{ stamp }}
            and {{ day_column }} >= (
                select min(written.{{ day_column }}) from {{ this }} as written
                where written.built_at_ms = {{ stamp }}
            )
        )
        {%- if keep_from is not none %}
        or {{ day_column }} < {{ keep_from }}
        {%- endif %}
{%- endmacro %}

{#
    The body of a CTE over `views` (a CTE of whole UTC days of the `playback_sessions` mart): one row
    per day x folded dimension (app_version, os, device) x value, with its views, its rank
    among the day's values of the dimension by views (ties by value; the pipeline's own
    'other' takes no place and has no rank), and `reported_value`: the value within the
    top qoe_top_values(), else 'other'. A day's ranking depends on that day's views only.
#}
{% macro ranked_dimension_values(views) -%}
    select
        view_date,
        dimension,
        dimension_value,
        views,
        value_rank,
        case
            when value_rank <= {{ qoe_top_values() }} then dimension_value else 'other'
        end as reported_value

    from (
        select
            *,
            case
                when dimension_value <> 'other'
                    then row_number() over (
                        partition by view_date, dimension, dimension_value = 'other'
                        order by views desc, dimension_value asc
                    )
            end as value_rank

        from (
            select
                view_date,
                {{ dimension_and_value(qoe_folded_dimensions()) }},
                count(*) as views

            from {{ views }}

            group by {{ dimension_grouping_sets(['view_date'], qoe_folded_dimensions()) }}
        ) as value_views
    ) as ranked
{%- endmacro %}

{#
    The `views` CTE's rows with the columns view_set_metrics() reads, the dimensions that
    are not folded as they are, and each folded dimension as the marts report it: its
    `reported_value` of the day in `ranked_values` (ranked_dimension_values()).
    `extra_columns`: further columns of `views` to keep.
#}
{% macro views_with_reported_dimensions(views, ranked_values, extra_columns=[]) -%}
    select
        {% for column in extra_columns -%}
        {{ views }}.{{ column }},
        {% endfor -%}
        {{ views }}.view_date,
        {%- for dimension in qoe_dimensions() %}
        {%- if dimension in qoe_folded_dimensions() %}
        coalesce({{ dimension }}_ranks.reported_value, 'other') as {{ dimension }},
        {%- else %}
        {{ views }}.{{ dimension }},
        {%- endif %}
        {%- endfor %}
        {{ views }}.viewer_key,
        {{ views }}.is_started,
        {{ views }}.is_failed,
        {{ views }}.is_vsf,
        {{ views }}.is_ebvs,
        {{ views }}.is_completed,
        {{ views }}.startup_ms,
        {{ views }}.played_ms,
        {{ views }}.stalled_ms,
        {{ views }}.stall_count,
        {{ views }}.watched_ms,
        {{ views }}.bitrate_weighted

    from {{ views }}

    {% for dimension in qoe_folded_dimensions() -%}
    left join {{ ranked_values }} as {{ dimension }}_ranks
        on
            {{ views }}.view_date = {{ dimension }}_ranks.view_date
            and {{ dimension }}_ranks.dimension = '{{ dimension }}'
            and {{ views }}.{{ dimension }} = {{ dimension }}_ranks.dimension_value
    {% endfor -%}
{%- endmacro %}
