{#
    Fails with the rows whose column lies outside [min_value, max_value]: rates in %
    between 0 and 100, fractions between 0 and 1, scores. NULLs (a rate over nothing) pass.
#}
{% test between(model, column_name, min_value, max_value) %}

select {{ column_name }}

from {{ model }}

where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}

{% endtest %}
