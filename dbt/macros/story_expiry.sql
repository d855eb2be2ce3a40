{#
    When a story expires, in epoch milliseconds, from its catalogue row (`content`, a
    relation or CTE alias of stg_catalog__content): the catalogue's expiry, else 24 hours
    after publication (stories are 24-hour content). Reactions after it are invalid.
#}
{% macro story_expires_at_ms(content) -%}
    coalesce({{ content }}.expires_at_ms, {{ content }}.published_at_ms + 86400000)
{%- endmacro %}
