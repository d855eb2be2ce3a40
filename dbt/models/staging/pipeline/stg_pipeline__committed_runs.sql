{{ config(materialized='table') }}

{#
    One row: the newest run the pipeline has committed, read once at the start of the
    build (every staging model of a lake table depends on this table), so the whole build
    reads one consistent snapshot of the lake. A run lands its files before the ledger
    commits it, and then writes state/pipeline_status.json; files of a later run are
    visible while a build is running, and without this cut one table of a build could
    include a run another table of the same build missed.

    NULL when there is no status file (a lake written by hand, a fresh data directory, the
    Snowflake target, whose tables are loaded per committed run): every run file counts.
#}

{% if target.type == 'duckdb' %}

    select max(last_run_id) as last_committed_run_id

    from read_json(
        [
            '{{ env_var('MARQUEE_DATA_DIR', 'data') }}/state/pipeline_status.json',
            'empty_sources/empty.ndjson'
        ],
        format = 'newline_delimited',
        allow_empty = true,
        columns = { 'last_run_id': 'bigint' }
    )

{% else %}

    select cast(null as {{ dbt.type_bigint() }}) as last_committed_run_id

{% endif %}
