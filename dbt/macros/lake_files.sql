{#
    The rows of a lake table, each run's rows once.

    The pipeline compacts run files into compact-<first>-<last>.parquet files (docs/
    reliability.md, pipelines/compaction.py): it writes the new file, then deletes the run
    files it replaces a while later. Meanwhile both are in the directory, and one glob
    lists both. Every file holding a run holds the same rows of it, and the wider a file
    (the more runs it holds) the newer the copy; so, per run, only the rows of the widest
    file listed count. The choice is made on the rows of the one listing the query read,
    never on a second listing that a compaction could have changed in between.

    `where` filters the rows before the choice (the runs a build merges), so an
    incremental build only ranks the rows of its new runs. DuckDB only: other warehouses
    load each run once (no files).
#}

{% macro lake_file_span(filename) -%}
    case
        when regexp_matches({{ filename }}, 'compact-[0-9]+-[0-9]+\.parquet$')
            then cast(regexp_extract({{ filename }}, '-([0-9]+)\.parquet$', 1) as bigint)
            - cast(regexp_extract({{ filename }}, 'compact-([0-9]+)-', 1) as bigint) + 1
        else 0
    end
{%- endmacro %}

{% macro lake_rows_once(lake_table, where='1 = 1') -%}
    {{ return(adapter.dispatch('lake_rows_once', 'marquee')(lake_table, where)) }}
{%- endmacro %}

{% macro default__lake_rows_once(lake_table, where) -%}
(
    select * from {{ source('pipeline', lake_table) }}
    where {{ where }}
)
{%- endmacro %}

{% macro duckdb__lake_rows_once(lake_table, where) -%}
(
    select * exclude (lake_file_span)
    from (
        select
            *,
            {{ lake_file_span('filename') }} as lake_file_span
        from {{ source('pipeline', lake_table) }}
        where {{ where }}
    ) as lake_copies
    qualify lake_file_span = max(lake_file_span) over (partition by run_id)
)
{%- endmacro %}
