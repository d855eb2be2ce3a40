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
    The file is read by `pipeline_status_file()` (macros/lake_columns.sql), per warehouse.
#}

select max(last_run_id) as last_committed_run_id

from {{ pipeline_status_file() }}
