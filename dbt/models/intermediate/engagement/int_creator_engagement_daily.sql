{#
    One row per creator x UTC day with any story, live, follow or tip activity: the
    engagement numbers creator_daily_performance joins on (creator_id, day). Story reach is
    the distinct viewers with a story event of the creator that day (creator_viewer_days);
    the reaction rate (METRICS.md, creator performance) is the distinct valid reactors to
    the creator's stories that day, among that reach, over it: a reactor who viewed only
    before midnight is not in the day's reach, so the rate stays a share of it. Valid and
    invalid reactions by the day the reaction was made; chat messages by the minute's day;
    follows and tips by event day. Reactions take their story's creator from the stories
    mart, the one place that resolves it (catalogue first, else the story's events).

    Incremental: a build replaces whole days (delete+insert on the day, as
    creator_daily_performance, whose (creator, day) rows can move between creators), from
    the day of the earliest input row written since this table was built
    (macros/incremental.sql), counting each of those days from every row of its inputs for
    that day. A reaction's row carries the build stamp of its fact (int_story_reactions is
    rebuilt whole every build).
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}

{% set inputs = [
    {'relation': ref('stg_pipeline__creator_viewer_days'), 'time_ms': timestamp_to_epoch_ms('day')},
    {'relation': ref('int_story_reactions'), 'time_ms': 'at_ms', 'stamp': 'staged_built_at_ms'},
    {'relation': ref('stories'), 'time_ms': 'first_viewed_ms'},
    {'relation': ref('int_live_minutes'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('stg_pipeline__creator_minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('stg_pipeline__tip_minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
] %}

with

{{ changed_since_cte(inputs) }}

story_viewer_days as (

    select * from {{ ref('stg_pipeline__creator_viewer_days') }}

    where
        activity = 'story'
        and {{ changed_days_filter('day') }}

),

story_reactions as (

    select * from {{ ref('int_story_reactions') }}

    where {{ changed_days_filter('cast(' ~ epoch_ms_to_timestamp('at_ms') ~ ' as date)') }}

),

stories as (

    select
        story_id,
        creator_id

    from {{ ref('stories') }}

),

live_minutes as (

    select * from {{ ref('int_live_minutes') }}

    where {{ changed_days_filter('cast(minute_start_at as date)') }}

),

creator_minutes as (

    select * from {{ ref('stg_pipeline__creator_minute_aggregates') }}

    where {{ changed_days_filter('cast(minute_start_at as date)') }}

),

tip_minutes as (

    select * from {{ ref('stg_pipeline__tip_minute_aggregates') }}

    where {{ changed_days_filter('cast(minute_start_at as date)') }}

),

valid_story_reactors as (

    select distinct
        stories.creator_id,
        cast({{ epoch_ms_to_timestamp('story_reactions.at_ms') }} as date) as day,
        story_reactions.viewer_key

    from story_reactions

    inner join stories
        on story_reactions.story_id = stories.story_id

    where story_reactions.is_valid

),

story_reach_numbers as (

    select
        story_viewer_days.creator_id,
        story_viewer_days.day,
        count(distinct story_viewer_days.viewer_key) as story_reach,
        count(distinct valid_story_reactors.viewer_key) as story_reached_valid_reactors

    from story_viewer_days

    left join valid_story_reactors
        on
            story_viewer_days.creator_id = valid_story_reactors.creator_id
            and story_viewer_days.day = valid_story_reactors.day
            and story_viewer_days.viewer_key = valid_story_reactors.viewer_key

    group by 1, 2

),

story_reaction_numbers as (

    select
        stories.creator_id,
        cast({{ epoch_ms_to_timestamp('story_reactions.at_ms') }} as date) as day,
        count(case when story_reactions.is_valid then 1 end) as valid_story_reactions,
        count(case when not story_reactions.is_valid then 1 end) as invalid_story_reactions

    from story_reactions

    inner join stories
        on story_reactions.story_id = stories.story_id

    group by 1, 2

),

live_numbers as (

    select
        creator_id,
        cast(minute_start_at as date) as day,
        {{ summed(['chat_messages', 'watched_ms']) }}

    from live_minutes

    group by 1, 2

),

follower_numbers as (

    select
        creator_id,
        cast(minute_start_at as date) as day,
        {{ summed(['follows', 'unfollows']) }}

    from creator_minutes

    group by 1, 2

),

tip_numbers as (

    select
        creator_id,
        cast(minute_start_at as date) as day,
        {{ summed(['tips']) }}

    from tip_minutes

    group by 1, 2

),

creator_days as (

    select
        creator_id,
        day
    from story_reach_numbers
    union
    select
        creator_id,
        day
    from story_reaction_numbers
    union
    select
        creator_id,
        day
    from live_numbers
    union
    select
        creator_id,
        day
    from follower_numbers
    union
    select
        creator_id,
        day
    from tip_numbers

),

final as (

    select
        creator_days.creator_id,
        creator_days.day,
        coalesce(story_reach_numbers.story_reach, 0) as story_reach,
        coalesce(story_reach_numbers.story_reached_valid_reactors, 0)
            as story_reached_valid_reactors,
        {{ pct(
            'story_reach_numbers.story_reached_valid_reactors', 'story_reach_numbers.story_reach'
        ) }} as story_reaction_rate_pct,
        coalesce(story_reaction_numbers.valid_story_reactions, 0) as valid_story_reactions,
        coalesce(story_reaction_numbers.invalid_story_reactions, 0) as invalid_story_reactions,
        coalesce(live_numbers.chat_messages, 0) as chat_messages,
        coalesce(live_numbers.watched_ms, 0) / 60000.0 as live_minutes_watched,
        coalesce(tip_numbers.tips, 0) as tips,
        coalesce(follower_numbers.follows, 0) as follows,
        coalesce(follower_numbers.unfollows, 0) as unfollows,
        coalesce(follower_numbers.follows, 0)
        - coalesce(follower_numbers.unfollows, 0) as net_followers

    from creator_days

    left join story_reach_numbers
        on
            creator_days.creator_id = story_reach_numbers.creator_id
            and creator_days.day = story_reach_numbers.day

    left join story_reaction_numbers
        on
            creator_days.creator_id = story_reaction_numbers.creator_id
            and creator_days.day = story_reaction_numbers.day

    left join live_numbers
        on
            creator_days.creator_id = live_numbers.creator_id
            and creator_days.day = live_numbers.day

    left join follower_numbers
        on
            creator_days.creator_id = follower_numbers.creator_id
            and creator_days.day = follower_numbers.day

    left join tip_numbers
        on
            creator_days.creator_id = tip_numbers.creator_id
            and creator_days.day = tip_numbers.day

)

{{ select_build_stamped('final') }}
