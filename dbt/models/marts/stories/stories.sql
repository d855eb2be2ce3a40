{#
    One row per story: every story of the catalogue, and every story named by story
    events. Reach, completion, valid reactions and conversion are over viewers (the
    viewer-level facts, int_story_viewers); impressions, navigation and reactions over
    events (the per-minute aggregates, int_story_minutes), so `reactions` counts every
    reaction event on the story and valid + invalid reactions must account for all of
    them. Rates over reach count only viewers in the reach (a completion or valid
    reaction whose story_viewed was lost does not lift a rate above 100 %).

    Incremental: a build rewrites the stories that can have changed, each recomputed over
    all its rows: those with rows int_story_minutes or int_story_viewers wrote since this
    table last read them (their built_at_ms newer than any read here: minutes_built_at_ms,
    viewers_built_at_ms), and those whose catalogue attributes (creator, title, times,
    deletion, announced live, creator name) are new or differ from the built ones.
#}

{{ incremental_mart_config('story_id') }}

{%- set changed_only = (
    'story_id in (select changed_stories.story_id from changed_stories)'
    if is_incremental() else '1 = 1'
) %}

with

story_minutes as (

    select * from {{ ref('int_story_minutes') }}

),

story_viewers as (

    select * from {{ ref('int_story_viewers') }}

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

creators as (

    select * from {{ ref('stg_catalog__creators') }}

),

{% if is_incremental() -%}
changed_stories as (

    select story_id
    from story_minutes
    where built_at_ms > {{ built_max('minutes_built_at_ms') }}

    union

    select story_id
    from story_viewers
    where built_at_ms > {{ built_max('viewers_built_at_ms') }}

    union

    select content.content_id as story_id
    from content
    where
        content.content_type = 'story'
        and content.content_id not in (select built_stories.story_id from {{ this }} as built_stories)

    union

    select built_stories.story_id
    from {{ this }} as built_stories
    left join content
        on built_stories.story_id = content.content_id
    left join creators
        on coalesce(content.creator_id, built_stories.creator_id) = creators.creator_id
    where
        (content.content_id is not null and built_stories.creator_id != content.creator_id)
        or built_stories.content_title is distinct from content.title
        or built_stories.published_at is distinct from content.published_at
        or built_stories.expires_at_ms is distinct from {{ story_expires_at_ms('content') }}
        {% if built_has_column('deleted_at') -%}
        or built_stories.deleted_at is distinct from content.deleted_at
        {%- endif %}
        or built_stories.announces_live_id is distinct from content.announces_live_id
        or built_stories.creator_name is distinct from creators.creator_name

),

{% endif -%}
event_totals as (

    select
        story_id,
        max(creator_id) as creator_id,
        {{ summed([
            'story_views', 'story_completions', 'story_tap_forward', 'story_tap_back',
            'story_tap_exit', 'story_swipe_forward', 'shares', 'reactions',
        ]) }},
        max(last_processed_at_ms) as last_processed_at_ms,
        max(built_at_ms) as minutes_built_at_ms

    from story_minutes

    where {{ changed_only }}

    group by 1

),

viewer_totals as (

    select
        story_id,
        count(case when is_reached then 1 end) as reach,
        count(case when has_completed then 1 end) as completed_viewers,
        {{ summed(['valid_reactions', 'invalid_reactions']) }},
        count(case when has_valid_reaction then 1 end) as valid_reactors,
        count(case when is_reached and has_valid_reaction then 1 end) as reached_valid_reactors,
        count(case when is_reached and has_converted_to_live then 1 end) as converted_viewers,
        min(first_viewed_ms) as first_viewed_ms,
        max(built_at_ms) as viewers_built_at_ms

    from story_viewers

    where {{ changed_only }}

    group by 1

),

stories as (

    select named_stories.story_id

    from (
        select content_id as story_id
        from content
        where content_type = 'story'
        union
        select story_id from event_totals
        union
        select story_id from viewer_totals
    ) as named_stories

    where {{ changed_only }}

),

joined as (

    select
        stories.story_id,
        coalesce(content.creator_id, event_totals.creator_id, '') as creator_id,
        creators.creator_name,
        content.title as content_title,
        content.published_at,
        {{ story_expires_at_ms('content') }} as expires_at_ms,
        {{ epoch_ms_to_timestamp(story_expires_at_ms('content')) }} as expires_at,
        content.deleted_at,
        content.announces_live_id,
        viewer_totals.first_viewed_ms,
        cast({{ epoch_ms_to_timestamp('viewer_totals.first_viewed_ms') }} as date)
            as first_viewed_date,
        coalesce(viewer_totals.reach, 0) as reach,
        coalesce(event_totals.story_views, 0) as impressions,
        coalesce(viewer_totals.completed_viewers, 0) as completed_viewers,
        coalesce(event_totals.story_completions, 0) as completions,
        coalesce(event_totals.story_tap_forward, 0) as tap_forwards,
        coalesce(event_totals.story_tap_back, 0) as tap_backs,
        coalesce(event_totals.story_tap_exit, 0) as tap_exits,
        coalesce(event_totals.story_swipe_forward, 0) as swipe_forwards,
        coalesce(event_totals.shares, 0) as shares,  -- noqa: RF04
        coalesce(event_totals.reactions, 0) as reactions,
        coalesce(viewer_totals.valid_reactions, 0) as valid_reactions,
        coalesce(viewer_totals.invalid_reactions, 0) as invalid_reactions,
        coalesce(viewer_totals.valid_reactors, 0) as valid_reactors,
        coalesce(viewer_totals.reached_valid_reactors, 0) as reached_valid_reactors,
        case
            when content.announces_live_id is not null
                then coalesce(viewer_totals.converted_viewers, 0)
        end as converted_viewers,
        {{ pct('viewer_totals.completed_viewers', 'viewer_totals.reach') }} as completion_rate_pct,
        {{ pct('event_totals.story_tap_forward', 'event_totals.story_views') }}
            as tap_forward_rate_pct,
        {{ pct('event_totals.story_tap_back', 'event_totals.story_views') }}
            as tap_back_rate_pct,
        {{ pct('event_totals.story_tap_exit', 'event_totals.story_views') }}
            as exit_rate_pct,
        {{ pct('event_totals.story_swipe_forward', 'event_totals.story_views') }}
            as swipe_forward_rate_pct,
        {{ pct('viewer_totals.reached_valid_reactors', 'viewer_totals.reach') }}
            as reaction_rate_pct,
        case
            when content.announces_live_id is not null
                then {{ pct('viewer_totals.converted_viewers', 'viewer_totals.reach') }}
        end as story_to_live_conversion_pct,
        event_totals.last_processed_at_ms,
        event_totals.minutes_built_at_ms,
        viewer_totals.viewers_built_at_ms

    from stories

    left join content
        on stories.story_id = content.content_id

    left join event_totals
        on stories.story_id = event_totals.story_id

    left join viewer_totals
        on stories.story_id = viewer_totals.story_id

    left join creators
        on coalesce(content.creator_id, event_totals.creator_id, '') = creators.creator_id

),

final as (

    select * from joined

)

{{ select_build_stamped('final') }}
