{#
    Column lists of the lake tables, named once (marquee/lake.py is the contract), so the
    staging models and the marts that re-aggregate them sum the same measures.
#}

{% macro startup_bucket_columns() -%}
    {{ return([
        'startup_bucket_0_250', 'startup_bucket_250_500', 'startup_bucket_500_1000',
        'startup_bucket_1000_2000', 'startup_bucket_2000_4000', 'startup_bucket_4000_8000',
        'startup_bucket_8000_inf',
    ]) }}
{%- endmacro %}

{% macro startup_bucket_edges_ms() -%}
    {# Lower edges of the buckets above, and the upper edge of each but the last. #}
    {{ return([0, 250, 500, 1000, 2000, 4000, 8000]) }}
{%- endmacro %}

{% macro minute_key_columns() -%}
    {# The grain of minute_aggregates: creator and content type are the content's. #}
    {{ return(['epoch_minute', 'content_id', 'platform', 'country']) }}
{%- endmacro %}

{% macro minute_measure_columns() -%}
    {{ return([
        'attempts', 'starts', 'fatal_errors', 'played_ms', 'stalled_ms', 'stall_count',
        'seek_ms', 'startup_ms_sum',
    ] + startup_bucket_columns() + [
        'story_views', 'story_completions', 'story_tap_forward', 'story_tap_back',
        'story_tap_exit', 'story_swipe_forward', 'reactions', 'chat_messages', 'shares',
        'ad_impressions', 'ad_q25', 'ad_q50', 'ad_q75', 'ad_q100', 'ad_skips', 'ad_clicks',
        'bitrate_weighted',
    ]) }}
{%- endmacro %}

{#
    `sum(column)` of each column as bigint, 0 for none: columns added after a table's first
    release are NULL in older run files, which count as 0. With single_row, the same value
    for a row that is a group of its own, without an aggregate.
#}
{% macro summed(columns, prefix='', single_row=false) -%}
    {%- for column in columns %}
        {%- if single_row %}
        cast(coalesce({{ prefix }}{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }}
        {%- else %}
        cast(coalesce(sum({{ prefix }}{{ column }}), 0) as {{ dbt.type_bigint() }}) as {{ column }}
        {%- endif %}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#
    `run_id <= <the newest committed run>` (stg_pipeline__committed_runs): the rows of the
    lake snapshot this build reads. True for every row when there is no status file.
#}
{% macro committed_runs_only(run_id='run_id') -%}
    coalesce(
        {{ run_id }} <= (select last_committed_run_id from {{ ref('stg_pipeline__committed_runs') }}),
        true
    )
{%- endmacro %}


{#
    The pipeline's status file (state/pipeline_status.json, rewritten by every committed
    local-mode run) as a relation with one column, `last_run_id`: no row when there is no
    file. Only DuckDB reads the lake's files; other warehouses have no status file (their
    tables are loaded per committed run), so every run counts there.
#}
{% macro pipeline_status_file() -%}
    {{ return(adapter.dispatch('pipeline_status_file', 'marquee')()) }}
{%- endmacro %}

{% macro default__pipeline_status_file() -%}
    (select cast(null as {{ dbt.type_bigint() }}) as last_run_id) as no_status_file
{%- endmacro %}

{% macro duckdb__pipeline_status_file() -%}
    read_json(
        [
            '{{ env_var('MARQUEE_DATA_DIR', 'data') }}/state/pipeline_status.json',
            'empty_sources/empty.ndjson'
        ],
        format = 'newline_delimited',
        allow_empty = true,
        columns = { 'last_run_id': 'bigint' }
    )
{%- endmacro %}
