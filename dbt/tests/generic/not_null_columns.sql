{#
    Fails with one row per listed column that holds a NULL (column_name, failing_rows).
    One scan of the model for all its columns: a test per column is a query per column,
    and dbt spends about as long scheduling each of those as DuckDB spends running it.
#}
{% test not_null_columns(model, columns) %}

{{ columns_failing(model, columns, '{} is null') }}

{% endtest %}
