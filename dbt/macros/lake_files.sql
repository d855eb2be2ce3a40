{#
    The rows of a lake table, each run's rows once.

    The pipeline compacts run files into compact-<first>-<last>.parquet files (docs/
    reliability.md, pipelines/compaction.py): it writes the new file, then deletes the run
    files it replaces a while later. Meanwhile both are in the directory, and one glob
    lists both. Every file holding a run holds the same rows of it, and the wider a file
    (the more runs it holds) the newer the copy; so, per run, only the rows of the widest
    file listed count (marquee.lake_runs.split_visible is the same rule in Python).

    `where` filters the rows before the choice (the runs a build merges). DuckDB only:
    other warehouses load each run once (no files). Two ways to choose, by materialization:

    - A table or incremental model lists the table's compacted files when its SQL is
      compiled, right before it runs (`lake_visible_compacted`), and keeps the rows of the
      outermost ones and of run files no listed compacted file holds. A file compacted after
      that listing is left out, and the files it replaces stay readable for the
      compaction's grace; the runs a build merges were all committed, so on disk, before
      it started. Each row is tested against a few constants.
    - A view is read long after it is built, so it decides on the rows of the one listing
      its read makes: per run, the rows of the widest file (a window over every row).
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
    {%- if config.get('materialized') == 'view' -%}
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
    {%- else -%}
    {%- set outermost = lake_visible_compacted(lake_table) %}
(
    select * from {{ source('pipeline', lake_table) }}
    where
        ({{ where }})
        and case
            {%- if outermost %}
            when parse_filename(filename) in (
                {%- for file in outermost %}'{{ file.name }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            ) then true
            {%- endif %}
            when contains(parse_filename(filename), 'compact-') then false
            {%- for file in outermost %}
            when run_id between {{ file.first }} and {{ file.last }} then false
            {%- endfor %}
            else true
        end
)
    {%- endif -%}
{%- endmacro %}

{#
    The outermost compacted files of `lake_table` now on disk (none held by a wider one), as
    [{name, first, last}]; [] while parsing. The directory is the one the table's source
    reads (its external_location).
#}
{% macro lake_visible_compacted(lake_table) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set location = source('pipeline', lake_table) | string -%}
    {%- set match = modules.re.search("read_parquet\('(.*)/[^/']*'", location) -%}
    {%- if match is none -%}
        {{ exceptions.raise_compiler_error(
            "lake_visible_compacted: no read_parquet('<directory>/...') in the location of "
            ~ "source pipeline." ~ lake_table ~ ": " ~ location
        ) }}
    {%- endif -%}
    {%- set directory = match.group(1) -%}
    {%- set listing -%}
        with compacted as (
            select
                parse_filename(file) as name,
                cast(regexp_extract(file, 'compact-([0-9]+)-[0-9]+\.parquet$', 1) as bigint) as first_run,
                cast(regexp_extract(file, 'compact-[0-9]+-([0-9]+)\.parquet$', 1) as bigint) as last_run
            from glob('{{ directory | replace("'", "''") }}/compact-*.parquet')
            where regexp_matches(file, 'compact-[0-9]+-[0-9]+\.parquet$')
        )
        select name, first_run, last_run
        from compacted as inner_file
        where not exists (
            select 1 from compacted as outer_file
            where outer_file.first_run <= inner_file.first_run
                and outer_file.last_run >= inner_file.last_run
                and outer_file.last_run - outer_file.first_run
                    > inner_file.last_run - inner_file.first_run
        )
        order by first_run
    {%- endset -%}
    {%- set files = [] -%}
    {%- for row in run_query(listing).rows -%}
        {%- do files.append({'name': row[0], 'first': row[1], 'last': row[2]}) -%}
    {%- endfor -%}
    {{ return(files) }}
{%- endmacro %}
