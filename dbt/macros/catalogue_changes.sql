{#
    Catalogue rows stamped with the build that first saw them as they are now.

    The catalogue staging tables are rebuilt whole on every build, so their rows cannot
    carry a build stamp the way the pipeline's staging does: every row would look new on
    every build. `changed_at_ms` is instead the stamp of the build that first read the row
    with its current values (a new record, or one whose attributes changed), and the
    previous stamp for a row read unchanged. Incremental marts that copy catalogue
    attributes (title, duration, owner, creator name) rewrite the rows of catalogue records
    stamped after their own last build (catalogue_changed_since), so a renamed creator or
    a duration that arrives after the views reaches the rows built before, as a full
    refresh would take it in.

    `cte`: the staged records; `key_column`: their key; `compared_columns`: the attributes
    whose change counts. The built table's previous version is read before it is
    replaced; a table built before it had these columns stamps every row once.
#}
{% macro select_change_stamped(cte, key_column, compared_columns) -%}
    {%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) if execute else none -%}
    {%- set previous_columns = adapter.get_columns_in_relation(previous) | map(attribute='name') | map('lower') | list if previous is not none else [] -%}
    {%- set comparable = 'changed_at_ms' in previous_columns
        and compared_columns | map('lower') | reject('in', previous_columns) | list | length == 0 -%}
select
    {{ cte }}.*,
    {% if comparable -%}
    case
        when
            previous.{{ key_column }} is not null
            {% for column in compared_columns -%}
            and {{ cte }}.{{ column }} is not distinct from previous.{{ column }}
            {% endfor %}
            then previous.changed_at_ms
        else {{ build_started_epoch_ms() }}
    end as changed_at_ms
    {%- else -%}
    {{ build_started_epoch_ms() }} as changed_at_ms
    {%- endif %}

from {{ cte }}
{%- if comparable %}

left join {{ previous }} as previous
    on {{ cte }}.{{ key_column }} = previous.{{ key_column }}
{%- endif %}
{%- endmacro %}

{#
    The content ids (`changed_catalogue_content`) and creator ids
    (`changed_catalogue_creators`) whose catalogue record changed after `watermark`, a
    model's own newest build stamp (select_change_stamped): subqueries for `in (...)`. A
    content counts as changed when its owner's record did, since the owner's name is
    copied with it.
#}
{% macro changed_catalogue_creators(watermark) -%}
    select changed_creators.creator_id
    from {{ ref('stg_catalog__creators') }} as changed_creators
    where changed_creators.changed_at_ms > {{ watermark }}
{%- endmacro %}

{% macro changed_catalogue_content(watermark) -%}
    select changed_content.content_id
    from {{ ref('stg_catalog__content') }} as changed_content
    where
        changed_content.changed_at_ms > {{ watermark }}
        or changed_content.creator_id in ({{ changed_catalogue_creators(watermark) }})
{%- endmacro %}

{#
    On incremental builds, a condition true for rows of content whose catalogue record, or
    its owner's, changed since this table was last built: the content `content_column`
    names, or a creator `creator_column` names. `1 = 0` on full builds, which read the
    catalogue as it is.
#}
{% macro catalogue_changed_since(content_column, creator_column=none) -%}
    {%- if is_incremental() -%}
    {%- set watermark = built_max('built_at_ms') -%}
    (
        {{ content_column }} in ({{ changed_catalogue_content(watermark) }})
        {%- if creator_column %}
        or {{ creator_column }} in ({{ changed_catalogue_creators(watermark) }})
        {%- endif %}
    )
    {%- else -%}
        1 = 0
    {%- endif -%}
{%- endmacro %}
