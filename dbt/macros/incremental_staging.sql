{#
    Incremental staging over the lake: each build merges only the run files it has not
    merged yet.

    Every lake table is a mergeable aggregate per run (sums, mins, maxes, unions, and the
    view picks, each the partial that is least or greatest in a total order), so merging a
    grain key's existing row with the new runs' partials of that key gives the row a merge
    of all its partials gives: the existing row is one more partial. A plain build therefore
    reads the new run files and the existing rows of the keys they touch, and upserts those
    keys (delete+insert on DuckDB, MERGE on Snowflake: upsert_strategy).

    The project's incremental state is two tables, created before every invocation
    (create_incremental_state, on-run-start):

    - `incremental_manifest` (model_name, run_id): the runs each staging model has merged.
      A set, not a high-water mark: local run ids are ordered, but streaming batch ids are
      hashes (pipelines/streaming.py batch_id_of), so "run_id > the newest merged" would
      skip a batch with a smaller hash.
    - `incremental_runs_this_run` (model_name, run_id): the runs a staging model merges in
      this build. Its pre-hook writes them (committed runs, stg_pipeline__committed_runs,
      not in the manifest): one snapshot, so a file landing during the build is neither
      merged nor recorded. The model reads only those runs; its post-hook adds them to the
      manifest inside the model's transaction, so a crash merges and records a run
      together or not at all (a run counted twice would double its sums).

    --full-refresh rebuilds a model and its manifest rows from every committed run. A
    staging table with no manifest rows (built before the manifest) is rebuilt from every
    committed run on its next build (staging_is_incremental).
#}

{% macro incremental_manifest() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=target.schema, identifier='incremental_manifest'
    )) }}
{%- endmacro %}

{% macro incremental_runs_this_run() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=target.schema, identifier='incremental_runs_this_run'
    )) }}
{%- endmacro %}

{# on-run-start: the state tables, once, before any model runs (one statement each). #}
{% macro create_incremental_state(relation) -%}
    create table if not exists {{ relation }} (
        model_name {{ dbt.type_string() }},
        run_id {{ dbt.type_bigint() }}
    )
{%- endmacro %}

{#
    on-run-start: a warehouse built with one ledger per model (`<model>__merged_runs`,
    `<model>__pending_runs`) moves its merged runs into the manifest and drops them, so the
    next build stays incremental.
#}
{% macro migrate_per_model_ledgers() -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
            {%- set ledger = adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias ~ '__merged_runs'
            ) -%}
            {%- if ledger is not none -%}
                {%- do run_query(
                    'insert into ' ~ incremental_manifest() ~ ' (model_name, run_id) select '
                    ~ dbt.string_literal(node.alias) ~ ', run_id from ' ~ ledger
                ) -%}
                {%- do adapter.drop_relation(ledger) -%}
                {%- do adapter.drop_relation(ledger.incorporate(
                    path={'identifier': node.alias ~ '__pending_runs'}
                )) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#
    is_incremental(), and the manifest holds runs of this model. A staging table built
    before the manifest has none: its next build merges every committed run (the upsert
    then rewrites every key) and starts its manifest rows, as a full build would.
#}
{% macro staging_is_incremental() -%}
    {%- if this is none or model.resource_type == 'unit_test' or not is_incremental() -%}
        {#- Unit tests of staging test the merge of given lake rows. #}
        {{ return(false) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set merged = run_query(
        'select count(*) from ' ~ incremental_manifest()
        ~ ' where model_name = ' ~ dbt.string_literal(this.identifier)
    ) -%}
    {{ return(merged.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#
    Pre-hooks: the committed runs of `lake_table` this build merges, replacing those of
    the model's last build.
#}
{% macro forget_runs_this_run() -%}
    delete from {{ incremental_runs_this_run() }}
    where model_name = {{ dbt.string_literal(this.identifier) }}
{%- endmacro %}

{% macro record_runs_this_run(lake_table) -%}
    insert into {{ incremental_runs_this_run() }} (model_name, run_id)
    select distinct {{ dbt.string_literal(this.identifier) }}, run_id
    from {{ source('pipeline', lake_table) }}
    where {{ committed_runs_only() }}
    {#- Without manifest rows for the model this excludes nothing: every committed run. #}
    {%- if is_incremental() %}
        and run_id not in (
            select merged.run_id from {{ incremental_manifest() }} as merged
            where merged.model_name = {{ dbt.string_literal(this.identifier) }}
        )
    {%- endif %}
{%- endmacro %}

{# The run ids this build merges into this model, as a query. #}
{% macro run_ids_this_run() -%}
    select this_run.run_id from {{ incremental_runs_this_run() }} as this_run
    where this_run.model_name = {{ dbt.string_literal(this.identifier) }}
{%- endmacro %}

{#
    Post-hooks: a full build first forgets the model's merged runs; then the runs just
    merged join the manifest. (After a first build is_incremental() is already true here,
    the table existing; the model then has no manifest rows to forget.)
#}
{% macro forget_merged_runs_on_full_build() -%}
    delete from {{ incremental_manifest() }}
    where
        model_name = {{ dbt.string_literal(this.identifier) }}
        and {{ 'false' if is_incremental() else 'true' }}
{%- endmacro %}

{#- Each run once per model, also when a dropped table was rebuilt over its manifest rows. #}
{% macro record_merged_runs() -%}
    insert into {{ incremental_manifest() }} (model_name, run_id)
    select this_run.model_name, this_run.run_id
    from {{ incremental_runs_this_run() }} as this_run
    where
        this_run.model_name = {{ dbt.string_literal(this.identifier) }}
        and not exists (
            select 1 from {{ incremental_manifest() }} as merged
            where merged.model_name = this_run.model_name and merged.run_id = this_run.run_id
        )
{%- endmacro %}

{#
    The rows of `lake_table` in the runs this build merges, as a parenthesised query (see
    merged_minute_aggregates for why not a CTE). On a full build those are every committed
    run. Each run's rows once, while a compaction has left a run in two files
    (lake_rows_once, macros/lake_files.sql).
#}
{% macro lake_rows_this_run(lake_table) -%}
    {%- if this is none or model.resource_type == 'unit_test' -%}
(
    {#- A unit test gives the source rows and runs no hooks: all of them are new. #}
    select * from {{ source('pipeline', lake_table) }}
    where {{ committed_runs_only() }}
)
    {%- else -%}
    {{ lake_rows_once(lake_table, 'run_id in (' ~ run_ids_this_run() ~ ')') }}
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
        pre_hook=[
            "{{ forget_runs_this_run() }}",
            "{{ record_runs_this_run('" ~ lake_table ~ "') }}",
        ],
        post_hook=[
            "{{ forget_merged_runs_on_full_build() }}",
            "{{ record_merged_runs() }}",
        ],
    ) }}
{%- endmacro %}

{#
    The partials a staging model over `lake_table` merges: on an incremental build the new
    runs' rows and the built rows of the keys they touch (below); on a full build the rows
    of every committed run.
#}
{% macro partials_to_merge(lake_table, key_columns, columns) -%}
    {%- if staging_is_incremental() -%}
    {{ new_partials_with_touched_rows(lake_rows_this_run(lake_table), key_columns, columns) }}
    {%- else -%}
    select * from {{ lake_rows_this_run(lake_table) }} as lake_rows
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
