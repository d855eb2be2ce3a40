{#
    Time conversions the pipeline's integer times need, written once per warehouse.

    Storage keeps event times as epoch milliseconds and minutes (integers never depend on a
    session time zone); marts expose timestamps without time zone holding UTC.
#}

{% macro epoch_ms_to_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'marquee')(expression)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(expression) -%}
    {{ dbt.dateadd('millisecond', expression, "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(expression) -%}
    epoch_ms(cast({{ expression }} as bigint))
{%- endmacro %}

{% macro snowflake__epoch_ms_to_timestamp(expression) -%}
    to_timestamp_ntz(cast({{ expression }} as bigint), 3)
{%- endmacro %}


{% macro epoch_minute_to_timestamp(expression) -%}
    {{ dbt.dateadd('minute', expression, "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}


{% macro timestamp_to_epoch_ms(expression) -%}
    {{ return(adapter.dispatch('timestamp_to_epoch_ms', 'marquee')(expression)) }}
{%- endmacro %}

{% macro default__timestamp_to_epoch_ms(expression) -%}
    cast({{ dbt.datediff("cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")", expression, 'millisecond') }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__timestamp_to_epoch_ms(expression) -%}
    epoch_ms(cast({{ expression }} as timestamp))
{%- endmacro %}


{#
    An RFC 3339 text (the catalogue's times, "2026-02-06T12:00:00.000Z" or with an offset)
    as a timestamp without time zone holding UTC.
#}
{% macro iso_to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('iso_to_utc_timestamp', 'marquee')(expression)) }}
{%- endmacro %}

{% macro default__iso_to_utc_timestamp(expression) -%}
    cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__iso_to_utc_timestamp(expression) -%}
    timezone('UTC', cast({{ expression }} as timestamptz))
{%- endmacro %}

{% macro snowflake__iso_to_utc_timestamp(expression) -%}
    convert_timezone('UTC', cast({{ expression }} as timestamp_tz))::timestamp_ntz
{%- endmacro %}


{#
    "Now" in epoch milliseconds, fixed once per dbt invocation at compile time, so every
    model of one build judges open and dropped views at the same instant and the SQL is the
    same on every warehouse. `--vars '{marquee_now_ms: ...}'` pins it (tests, backfills).
#}
{% macro now_epoch_ms() -%}
    {%- set pinned = var('marquee_now_ms', none) -%}
    {%- if pinned is not none -%}
        cast({{ pinned | int }} as {{ dbt.type_bigint() }})
    {%- else -%}
        {{ build_started_epoch_ms() }}
    {%- endif -%}
{%- endmacro %}

{#
    When this dbt invocation started, in epoch milliseconds: the stamp of the rows a build
    writes (`built_at_ms`). Never pinned: it orders builds, not the data.
#}
{% macro build_started_epoch_ms() -%}
    cast({{ (run_started_at.timestamp() * 1000) | int }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#
    The closing select of an incremental model: every column of the CTE `cte` and the
    build's stamp, `built_at_ms`, by which the data tests of a plain build find the rows it
    wrote (macros/test_window.sql) and the models downstream what changed.
#}
{% macro select_build_stamped(cte) -%}
select
    *,
    {{ build_started_epoch_ms() }} as built_at_ms

from {{ cte }}
{%- endmacro %}


{% macro epoch_ms_to_epoch_minute(expression) -%}
    cast(floor({{ expression }} / 60000.0) as {{ dbt.type_bigint() }})
{%- endmacro %}
