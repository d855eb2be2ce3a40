{#
    Fails with one row per key that occurs more than once: the primary-key test of a model
    whose grain is several columns (written here because dbt packages such as dbt_utils are
    not installed).
#}
{% test unique_combination(model, combination_of_columns) %}

with

keyed as (

    select
        {{ combination_of_columns | join(',\n        ') }}

    from {{ model }}

),

duplicated as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as n_rows

    from keyed

    group by {{ combination_of_columns | join(', ') }}

    having count(*) > 1

)

select * from duplicated

{% endtest %}
