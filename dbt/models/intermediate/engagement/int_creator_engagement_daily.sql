{#
    One row per creator x UTC day with any story, live, follow or tip activity: the
    engagement numbers creator_daily_performance joins on (creator_id, day). Story reach and
    the reaction rate are by the day of each viewer's first view of a story; valid and
    invalid reactions by the day the reaction was made; chat messages by the minute's day;
    follows and tips by event day. Stories take their creator from the stories mart, the
    one place that resolves it (catalogue first, else the story's events).

    Incremental: a build replaces whole days (delete+insert on the day, as
    creator_daily_performance, whose (creator, day) rows can move between creators), from
    the day of the earliest input row written since this table was built
    (macros/incremental.sql), counting each of those days from every row of its inputs for
    that day. A reaction's row carries the build stamp of its fact (int_story_reactions is
    rebuilt whole every build).
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}

{% set inputs = [
    {'relation': ref('int_story_viewers'), 'time_ms': 'first_viewed_ms'},
    {'relation': ref('int_story_reactions'), 'time_ms': 'at_ms', 'stamp': 'staged_built_at_ms'},
    {'relation': ref('stories'), 'time_ms': 'first_viewed_ms'},
    {'relation': ref('int_live_minutes'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('stg_pipeline__creator_minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('stg_pipeline__tip_minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
] %}

with

{{ changed_since_cte(inputs) }}

story_viewers as (

    select * from {{ ref('int_story_viewers') }}

    where {{ changed_days_filter(
        'cast(' ~ epoch_ms_to_timestamp('first_viewed_ms') ~ ' as date)'
    ) }}

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

story_reach_numbers as (

    select
        stories.creator_id,
        cast({{ epoch_ms_to_timestamp('story_viewers.first_viewed_ms') }} as date) as day,
        count(distinct story_viewers.viewer_key) as story_reach,
        count(
            distinct case when story_viewers.has_valid_reaction then story_viewers.viewer_key end
        ) as story_reached_valid_reactors

    from story_viewers

    inner join stories
        on story_viewers.story_id = stories.story_id

    where story_viewers.is_reached

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
