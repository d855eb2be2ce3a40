{#
    Incremental staging over the lake: each build merges only the run files it has not
    merged yet.

    Every lake table is a mergeable aggregate per run (sums, mins, maxes, unions, and the
    view picks, each the partial that is least or greatest in a total order), so merging a
    grain key's existing row with the new runs' partials of that key gives the row a merge
    of all its partials gives: the existing row is one more partial. A plain build therefore
    reads the new run files and the existing rows of the keys they touch, and upserts those
    keys (delete+insert on DuckDB, MERGE on Snowflake: upsert_strategy).

    Which runs are merged is a set, not a high-water mark: local run ids are ordered, but
    streaming batch ids are hashes (pipelines/streaming.py batch_id_of), so "run_id > the
    newest merged" would skip a batch with a smaller hash. Each staging model keeps the ids
    it merged in <model>__merged_runs. The pre-hook writes the ids this build merges to
    <model>__pending_runs (committed runs, stg_pipeline__committed_runs, not merged yet):
    one snapshot, so a file landing during the build is neither merged nor recorded. The
    model reads only those runs; the post-hook adds them to <model>__merged_runs inside the
    model's transaction, so a crash merges and records a run together or not at all (a run
    counted twice would double its sums). --full-refresh rebuilds both from every committed
    run.

    A staging table without its ledger (built before staging was incremental) is rebuilt
    from every committed run on its next build (staging_is_incremental).
#}

{% macro merged_runs_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__merged_runs'})) }}
{%- endmacro %}

{% macro pending_runs_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__pending_runs'})) }}
{%- endmacro %}

{#
    is_incremental(), and the ledger exists. A staging table built before staging was
    incremental has none: its next build merges every committed run (the upsert then
    rewrites every key) and starts the ledger, as a full build would.
#}
{% macro staging_is_incremental() -%}
    {%- if this is none or model.resource_type == 'unit_test' or not is_incremental() -%}
        {#- Unit tests of staging test the merge of given lake rows. #}
        {{ return(false) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__merged_runs'
    ) is not none) }}
{%- endmacro %}

{# Pre-hook: the committed runs of `lake_table` this build merges. #}
{% macro record_pending_runs(lake_table) -%}
    create or replace table {{ pending_runs_relation() }} as
    select distinct run_id
    from {{ source('pipeline', lake_table) }}
    where {{ committed_runs_only() }}
    {%- if staging_is_incremental() %}
        and run_id not in (select run_id from {{ merged_runs_relation() }})
    {%- endif %}
{%- endmacro %}

{# Post-hook: the runs just merged join the ledger (a new ledger on full builds). #}
{% macro record_merged_runs() -%}
    {%- if staging_is_incremental() -%}
        insert into {{ merged_runs_relation() }} (run_id)
        select run_id from {{ pending_runs_relation() }}
    {%- else -%}
        create or replace table {{ merged_runs_relation() }} as
        select run_id from {{ pending_runs_relation() }}
    {%- endif -%}
{%- endmacro %}

{#
    The rows of `lake_table` in the runs this build merges, as a parenthesised query (see
    merged_minute_aggregates for why not a CTE). On a full build those are every committed
    run. Each run's rows once, while a compaction has left a run in two files
    (lake_rows_once, macros/lake_files.sql).
#}
{% macro pending_lake_rows(lake_table) -%}
    {%- if this is none or model.resource_type == 'unit_test' -%}
(
    {#- A unit test gives the source rows and runs no hooks: all of them are new. #}
    select * from {{ source('pipeline', lake_table) }}
    where {{ committed_runs_only() }}
)
    {%- else -%}
    {{ lake_rows_once(lake_table, 'run_id in (select run_id from ' ~ pending_runs_relation() ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#
    The model's config for incremental staging over `lake_table` with grain `unique_key`.
    The model stamps every row it writes with `built_at_ms` (macros/test_window.sql).
#}
{% macro incremental_staging_config(lake_table, unique_key) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=upsert_strategy(),
        unique_key=unique_key,
        on_schema_change='fail',
        pre_hook="{{ record_pending_runs('" ~ lake_table ~ "') }}",
        post_hook="{{ record_merged_runs() }}",
    ) }}
{%- endmacro %}

{#
    The partials a staging model over `lake_table` merges: on an incremental build the new
    runs' rows and the built rows of the keys they touch (below); on a full build the rows
    of every committed run.
#}
{% macro partials_to_merge(lake_table, key_columns, columns) -%}
    {%- if staging_is_incremental() -%}
    {{ new_partials_with_touched_rows(pending_lake_rows(lake_table), key_columns, columns) }}
    {%- else -%}
    select * from {{ pending_lake_rows(lake_table) }} as lake_rows
    {%- endif -%}
{%- endmacro %}

{#
    The partials to merge on an incremental build: the new runs' rows (`new_rows`, a CTE
    name or a parenthesised query of lake rows) and the built rows of the grain keys they
    touch, each as one more partial (its last_processed_at_ms as processed_at_ms).
    `columns` are the lake columns the built table carries under the same name (keys and
    measures).
#}
{% macro new_partials_with_touched_rows(new_rows, key_columns, columns) -%}
    select {{ columns | join(', ') }}, processed_at_ms
    from {{ new_rows }} as new_rows

    union all

    select {% for column in columns %}existing.{{ column }}, {% endfor -%}
        existing.last_processed_at_ms as processed_at_ms
    from {{ this }} as existing
    where exists ({{ same_key_in(new_rows, 'existing', key_columns, alias='new_rows') }})
{%- endmacro %}
