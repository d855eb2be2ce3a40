{#
    Fails with the rows whose column is negative: counts, sums of durations and their
    derivatives can never be. NULLs are left to not_null.
#}
{% test non_negative(model, column_name) %}

select {{ column_name }}

from {{ model }}

where {{ column_name }} < 0

{% endtest %}
