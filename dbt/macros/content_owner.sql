{#
    The creator and content type of every content named in a per-minute lake table.

    A share or a reaction sent without creator_id (or content_type) lands with ''. The
    catalogue, the system of record, decides; for content it does not know yet, the
    non-empty value the table's other rows carry for the same content. '' remains only
    when neither knows. Used to take those columns out of the grain key: one row per
    (minute, content, ...) whatever the events said. `lake_rows` is a table or a
    parenthesised query (see merged_minute_aggregates for why not a CTE).
#}
{% macro content_owners_cte(lake_rows) -%}

    select
        named.content_id,
        coalesce(catalogue.creator_id, named.event_creator_id, '') as creator_id,
        coalesce(catalogue.content_type, named.event_content_type, '') as content_type

    from (

        select
            content_id,
            max(case when creator_id <> '' then creator_id end) as event_creator_id,
            max(case when content_type <> '' then content_type end) as event_content_type

        from {{ lake_rows }} as lake_rows

        group by content_id

    ) as named

    left join {{ ref('stg_catalog__content') }} as catalogue
        on named.content_id = catalogue.content_id

{%- endmacro %}
