{#
    Fails with the rows for which a boolean SQL expression over the model's columns is not
    true (false or NULL): business rules such as `watched_ms >= played_ms + stalled_ms`.
#}
{% test expression_is_true(model, expression) %}

select *

from {{ model }}

where not coalesce({{ expression }}, false)

{% endtest %}
