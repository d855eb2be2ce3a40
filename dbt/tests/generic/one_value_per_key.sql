{#
    Fails with one row per key whose rows carry more than one distinct value of the column
    (values in `ignore` left out): an attribute that must be a function of the key, such as
    the creator of a content, across every row and run that names it.
#}
{% test one_value_per_key(model, column_name, key, ignore=[]) %}

select
    {{ key }},
    count(distinct {{ column_name }}) as n_values

from {{ model }}

{% if ignore %}
where {{ column_name }} not in (
    {%- for value in ignore %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor -%}
)
{% endif %}

group by {{ key }}

having count(distinct {{ column_name }}) > 1

{% endtest %}
