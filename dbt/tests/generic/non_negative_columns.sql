{#
    Fails with one row per listed column that holds a negative value (column_name,
    failing_rows): counts, sums of durations and their derivatives can never be. NULLs are
    left to not_null_columns. One scan for all the columns, like not_null_columns.
#}
{% test non_negative_columns(model, columns) %}

{{ columns_failing(model, columns, '{} < 0') }}

{% endtest %}
