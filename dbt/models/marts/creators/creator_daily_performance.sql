{#
    The headline numbers of METRICS.md per creator per UTC day. Views and QoE by view
    start day; engagement counts by event day.

    Incremental: a build replaces whole days (delete+insert on the day, on both adapters:
    a content whose owner is resolved late moves its numbers from one creator to another,
    so a (creator, day) row can vanish, which an upsert on creator and day would leave
    behind), from the day of the earliest input row written since this table was built
    (macros/incremental.sql), a creator's catalogue record among those inputs: a renamed
    creator rebuilds every day from its first. The week-over-week changes of the first
    week of those days compare with days this table already holds, which have not changed.
#}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}

{# The built days of creators whose catalogue record changed: their name is copied. #}
{% set days_of_changed_creators %}
    (
        select built_days.day, creators.changed_at_ms
        from {{ this }} as built_days
        inner join {{ ref('stg_catalog__creators') }} as creators
            on built_days.creator_id = creators.creator_id
    ) as days_of_changed_creators
{% endset %}
{% set inputs = [
    {'relation': ref('playback_sessions'), 'time_ms': 'view_start_ms'},
    {'relation': ref('stg_pipeline__minute_aggregates'), 'time_ms': 'epoch_minute * 60000'},
    {'relation': ref('stg_pipeline__creator_viewer_days'), 'time_ms': timestamp_to_epoch_ms('day')},
    {'relation': ref('int_creator_engagement_daily'), 'time_ms': timestamp_to_epoch_ms('day')},
    {
        'relation': days_of_changed_creators,
        'time_ms': timestamp_to_epoch_ms('day'),
        'stamp': 'changed_at_ms',
    },
] %}

with

{{ changed_since_cte(inputs) }}

views as (

    select * from {{ ref('playback_sessions') }}

    where {{ changed_days_filter('view_date') }}

),

minute_aggregates as (

    select * from {{ ref('stg_pipeline__minute_aggregates') }}

    where {{ changed_days_filter('minute_date') }}

),

creator_viewer_days as (

    select * from {{ ref('stg_pipeline__creator_viewer_days') }}

    where {{ changed_days_filter('day') }}

),

creators as (

    select * from {{ ref('stg_catalog__creators') }}

),

{# Follows, tips and the story numbers, counted once per creator and day in the rollup. #}
engagement_daily as (

    select * from {{ ref('int_creator_engagement_daily') }}

    where {{ changed_days_filter('day') }}

),

view_numbers as (

    select
        creator_id,
        view_date as day,
        {{ view_set_metrics() }}

    from views

    group by 1, 2

),

engagement_numbers as (

    select
        creator_id,
        minute_date as day,
        {{ summed(['chat_messages', 'shares', 'reactions', 'ad_impressions', 'story_views']) }}

    from minute_aggregates

    group by 1, 2

),

audience_numbers as (

    select
        creator_id,
        day,
        count(distinct viewer_key) as audience_viewers

    from creator_viewer_days

    group by 1, 2

),

{#
    Story numbers from the stories marts' creator-day rollup (int_creator_engagement_daily):
    reactions to live, VOD and clips are always valid, so the day's valid reactions are all
    its reactions minus the story reactions judged invalid (after expiry, or a repeat). Story
    reach and the reaction rate (distinct valid reactors of the day among that reach / the
    reach) are that model's, so the rate is over this row's story_reach.
#}
story_and_live_numbers as (

    select
        creator_id,
        day,
        story_reach,
        invalid_story_reactions,
        story_reaction_rate_pct as reaction_rate_pct

    from engagement_daily

),

creator_days as (

    select
        creator_id,
        day
    from view_numbers
    union
    select
        creator_id,
        day
    from engagement_numbers
    union
    -- The rollup's days with a follow, unfollow or tip; a day with only its story or live
    -- numbers is not a row of this mart on its own.
    select
        creator_id,
        day
    from engagement_daily
    where follows + unfollows + tips > 0
    union
    select
        creator_id,
        day
    from audience_numbers

),

joined as (

    select
        creator_days.creator_id,
        creator_days.day,
        creators.creator_name,
        coalesce(view_numbers.views, 0) as views,
        coalesce(view_numbers.unique_viewers, 0) as unique_viewers,
        coalesce(audience_numbers.audience_viewers, 0) as audience_viewers,
        coalesce(view_numbers.started_views, 0) as started_views,
        coalesce(view_numbers.failed_views, 0) as failed_views,
        coalesce(view_numbers.watch_time_hours, 0) as watch_time_hours,
        view_numbers.avg_view_duration_secs,
        view_numbers.completion_rate_pct,
        view_numbers.startup_p50_ms,
        view_numbers.rebuffer_pct,
        view_numbers.playback_failure_pct,
        coalesce(engagement_daily.follows, 0) as follows,
        coalesce(engagement_daily.unfollows, 0) as unfollows,
        coalesce(engagement_daily.net_followers, 0) as net_followers,
        coalesce(story_and_live_numbers.story_reach, 0) as story_reach,
        coalesce(engagement_numbers.story_views, 0) as story_impressions,
        coalesce(engagement_numbers.reactions, 0) as reactions,
        coalesce(engagement_numbers.reactions, 0)
        - coalesce(story_and_live_numbers.invalid_story_reactions, 0) as valid_reactions,
        story_and_live_numbers.reaction_rate_pct,
        coalesce(engagement_numbers.chat_messages, 0) as chat_messages,
        coalesce(engagement_numbers.shares, 0) as shares,
        coalesce(engagement_daily.tips, 0) as tips,
        coalesce(engagement_numbers.ad_impressions, 0) as ad_impressions,
        {{ pct(
            'coalesce(engagement_numbers.reactions, 0)'
            ~ ' - coalesce(story_and_live_numbers.invalid_story_reactions, 0)'
            ~ ' + coalesce(engagement_numbers.chat_messages, 0)'
            ~ ' + coalesce(engagement_numbers.shares, 0)',
            'view_numbers.views'
        ) }} as engagement_rate_pct

    from creator_days

    left join creators on creator_days.creator_id = creators.creator_id
    left join view_numbers
        on creator_days.creator_id = view_numbers.creator_id and creator_days.day = view_numbers.day
    left join engagement_numbers
        on
            creator_days.creator_id = engagement_numbers.creator_id
            and creator_days.day = engagement_numbers.day
    left join engagement_daily
        on
            creator_days.creator_id = engagement_daily.creator_id
            and creator_days.day = engagement_daily.day
    left join audience_numbers
        on
            creator_days.creator_id = audience_numbers.creator_id
            and creator_days.day = audience_numbers.day
    left join story_and_live_numbers
        on
            creator_days.creator_id = story_and_live_numbers.creator_id
            and creator_days.day = story_and_live_numbers.day

),

{# The rows the week-over-week changes compare with: the days rebuilt, and the week
   before them as this table holds it. #}
{% set week_over_week_columns = [
    'creator_id', 'day', 'views', 'unique_viewers', 'watch_time_hours', 'net_followers',
] %}
weeks_before as (

    select
        {{ week_over_week_columns | join(',\n        ') }}
    from joined
    {% if is_incremental() -%}

    union all

    select
        {{ week_over_week_columns | join(',\n        ') }}
    from {{ this }}
    where
        day < {{ changed_since_day() }}
        and day >= cast({{ dbt.dateadd('day', -7, changed_since_day()) }} as date)
    {%- endif %}

),

final as (

    select
        joined.*,
        {{ pct('joined.views - week_before.views', 'week_before.views') }} as views_wow_change_pct,
        {{ pct(
            'joined.unique_viewers - week_before.unique_viewers', 'week_before.unique_viewers'
        ) }} as unique_viewers_wow_change_pct,
        {{ pct(
            'joined.watch_time_hours - week_before.watch_time_hours',
            'week_before.watch_time_hours'
        ) }} as watch_time_hours_wow_change_pct,
        {{ pct('joined.net_followers - week_before.net_followers', 'week_before.net_followers') }}
            as net_followers_wow_change_pct

    from joined

    left join weeks_before as week_before
        on
            joined.creator_id = week_before.creator_id
            and week_before.day = cast({{ dbt.dateadd('day', -7, 'joined.day') }} as date)

)

{{ select_build_stamped('final') }}
