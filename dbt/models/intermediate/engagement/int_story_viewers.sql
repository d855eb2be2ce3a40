{{ incremental_mart_config(['story_id', 'viewer_key']) }}

{#
    One row per story x viewer with any story fact (viewed, completed, reacted): when the
    viewer first viewed and completed the story, their valid and invalid reactions, and,
    for a story that announces a live stream, whether they converted: their first view of
    that live (play request or playback start) began within 24 h after their first view of
    the story (METRICS.md, story-to-live conversion). A viewer who was already watching
    the live before seeing the story did not come because of it and does not convert.

    An incremental build rewrites only the story x viewer rows that can have changed
    (a rebuild of every row is the costliest part of an hourly build):
    - those with story facts staging rewrote since the last build, and those whose viewer
      has new live facts for the live their story announces (stamped by a staging build,
      built_at_ms, newer than any this table has read, staged_built_at_ms);
    - those whose reaction counts differ from the built ones (recounted over every
      reaction: validity also depends on the catalogue's expiry), and those whose story's
      announced live differs from the catalogue's now.
#}

with

content as (

    select * from {{ ref('stg_catalog__content') }}

),

story_reactions as (

    select * from {{ ref('int_story_reactions') }}

),

reactions_per_viewer as (

    select
        story_id,
        viewer_key,
        count(*) as reactions,
        count(case when is_valid then 1 end) as valid_reactions,
        count(case when not is_valid then 1 end) as invalid_reactions,
        min(case when is_valid then at_ms end) as valid_reaction_ms

    from story_reactions

    group by 1, 2

),

{% if is_incremental() -%}
{% set built_watermark = built_max('staged_built_at_ms') %}
built as (

    select
        story_id, viewer_key, announces_live_id, reactions, valid_reactions,
        invalid_reactions, valid_reaction_ms
    from {{ this }}

),

changed_keys as (

    select story_id, viewer_key
    from {{ ref('stg_pipeline__story_viewer_facts') }}
    where built_at_ms > {{ built_watermark }}

    union

    select content.content_id as story_id, live_facts.viewer_key
    from {{ ref('stg_pipeline__live_viewer_facts') }} as live_facts
    inner join content
        on live_facts.live_id = content.announces_live_id
    where
        live_facts.fact in ('requested', 'started')
        and live_facts.built_at_ms > {{ built_watermark }}

    union

    {{ keys_with_changed_values(
        'built', 'reactions_per_viewer', ['story_id', 'viewer_key'],
        ['reactions', 'valid_reactions', 'invalid_reactions', 'valid_reaction_ms'],
    ) }}

    union

    select built.story_id, built.viewer_key
    from built
    left join content
        on built.story_id = content.content_id
    where built.announces_live_id is distinct from content.announces_live_id

),
{%- endif %}

story_viewer_facts as (

    select * from {{ ref('stg_pipeline__story_viewer_facts') }} as facts  -- noqa: AL05

    {% if is_incremental() -%}
    where exists ({{ same_key_in('changed_keys', 'facts', ['story_id', 'viewer_key']) }})
    {%- endif %}

),

live_viewer_facts as (

    select * from {{ ref('stg_pipeline__live_viewer_facts') }}

    where fact in ('requested', 'started')

),

first_times as (

    select
        story_id,
        viewer_key,
        min(case when fact = 'viewed' then at_ms end) as first_viewed_ms,
        min(case when fact = 'completed' then at_ms end) as first_completed_ms,
        max(last_processed_at_ms) as last_processed_at_ms,
        max(built_at_ms) as staged_built_at_ms

    from story_viewer_facts

    group by 1, 2

),

first_live_views as (

    select
        live_id,
        viewer_key,
        min(at_ms) as first_live_view_ms,
        max(last_processed_at_ms) as last_processed_at_ms,
        max(built_at_ms) as staged_built_at_ms

    from live_viewer_facts

    group by 1, 2

),

joined as (

    select
        first_times.story_id,
        first_times.viewer_key,
        first_times.first_viewed_ms,
        first_times.first_completed_ms,
        first_times.first_viewed_ms is not null as is_reached,
        first_times.first_viewed_ms is not null
        and first_times.first_completed_ms is not null as has_completed,
        coalesce(reactions_per_viewer.reactions, 0) as reactions,
        coalesce(reactions_per_viewer.valid_reactions, 0) as valid_reactions,
        coalesce(reactions_per_viewer.invalid_reactions, 0) as invalid_reactions,
        reactions_per_viewer.valid_reaction_ms,
        coalesce(reactions_per_viewer.valid_reactions, 0) > 0 as has_valid_reaction,
        content.announces_live_id,
        first_live_views.first_live_view_ms,
        coalesce(
            first_live_views.first_live_view_ms >= first_times.first_viewed_ms
            and first_live_views.first_live_view_ms <= first_times.first_viewed_ms + 86400000,
            false
        ) as has_converted_to_live,
        greatest(
            first_times.last_processed_at_ms,
            coalesce(first_live_views.last_processed_at_ms, 0)
        ) as last_processed_at_ms,
        greatest(
            first_times.staged_built_at_ms,
            coalesce(first_live_views.staged_built_at_ms, 0)
        ) as staged_built_at_ms

    from first_times

    left join reactions_per_viewer
        on
            first_times.story_id = reactions_per_viewer.story_id
            and first_times.viewer_key = reactions_per_viewer.viewer_key

    left join content
        on first_times.story_id = content.content_id

    left join first_live_views
        on
            content.announces_live_id = first_live_views.live_id
            and first_times.viewer_key = first_live_views.viewer_key

),

final as (

    select * from joined

)

{{ select_build_stamped('final') }}
