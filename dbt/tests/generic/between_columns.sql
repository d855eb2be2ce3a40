{#
    Fails with one row per listed column that holds a value outside [min_value, max_value]
    (rates in % between 0 and 100, fractions between 0 and 1). NULLs (a rate over nothing)
    pass. One scan for all the columns, like not_null_columns.
#}
{% test between_columns(model, columns, min_value, max_value) %}

{{ columns_failing(model, columns, '{0} < ' ~ min_value ~ ' or {0} > ' ~ max_value) }}

{% endtest %}
