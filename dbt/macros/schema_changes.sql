{#
    dbt's check of an incremental model's new rows (`source_relation`, the temporary table)
    against its built table, for on_schema_change, in one statement on DuckDB: dbt's own
    (default__check_for_schema_changes) asks for each relation's columns apart, and every
    incremental model of every build runs it (about 9 ms a statement through dbt). Same
    result: both column lists in DESCRIBE's order, the columns each lacks, and the changed
    types.
#}
{% macro duckdb__check_for_schema_changes(source_relation, target_relation) %}
    {%- set listing -%}
        select side, column_name, column_type
        from (
            select 0 as side, row_number() over () as position, column_name, column_type
            from (describe {{ source_relation.render() }})
            union all
            select 1 as side, row_number() over () as position, column_name, column_type
            from (describe {{ target_relation.render() }})
        ) as described
        order by side, position
    {%- endset -%}
    {%- set source_columns = [] -%}
    {%- set target_columns = [] -%}
    {%- for row in run_query(listing).rows -%}
        {%- do (source_columns if row[0] == 0 else target_columns).append(api.Column(row[1], row[2])) -%}
    {%- endfor -%}
    {%- set source_not_in_target = diff_columns(source_columns, target_columns) -%}
    {%- set target_not_in_source = diff_columns(target_columns, source_columns) -%}
    {%- set new_target_types = diff_column_data_types(source_columns, target_columns) -%}
    {%- set changes = {
        'schema_changed': (source_not_in_target + target_not_in_source + new_target_types) | length > 0,
        'source_not_in_target': source_not_in_target,
        'target_not_in_source': target_not_in_source,
        'source_columns': source_columns,
        'target_columns': target_columns,
        'new_target_types': new_target_types,
    } -%}
    {%- do log('In ' ~ target_relation ~ ': schema changes ' ~ changes, info=false) -%}
    {{ return(changes) }}
{% endmacro %}
