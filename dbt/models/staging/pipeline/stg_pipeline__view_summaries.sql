{#
    The SQL twin of pipelines.views.merge_view_partials: every run's partial of a view
    merged into one row. Every pick has a total order, so the result does not depend on
    which runs saw which events.
#}

with

source as (

    select * from {{ source('pipeline', 'view_summaries') }}

    where {{ committed_runs_only() }}

),

ranked_partials as (

    select
        *,
        -- Descriptive columns: of the least (first_event_ms, content_id, ..., viewer_key).
        row_number() over (
            partition by app_id, session_id
            order by
                first_event_ms, content_id, creator_id, content_type, platform, country,
                viewer_key
        ) as n_earliest,
        -- startup_ms with started_at_ms: of the first playback_started.
        row_number() over (
            partition by app_id, session_id
            order by started_at_ms asc nulls last, startup_ms asc nulls last
        ) as n_first_start,
        -- end_reason with ended_at_ms: of the last playback_ended.
        row_number() over (
            partition by app_id, session_id
            order by ended_at_ms desc nulls last, end_reason desc nulls last
        ) as n_last_end

    from source

),

merged as (

    select
        app_id,
        session_id,
        min(first_event_ms) as first_event_ms,
        max(last_event_ms) as last_event_ms,
        min(play_requested_ms) as play_requested_ms,
        max(case when n_earliest = 1 then content_id end) as content_id,
        max(case when n_earliest = 1 then creator_id end) as creator_id,
        max(case when n_earliest = 1 then content_type end) as content_type,
        max(case when n_earliest = 1 then platform end) as platform,
        max(case when n_earliest = 1 then country end) as country,
        max(case when n_earliest = 1 then viewer_key end) as viewer_key,
        {{ dbt.bool_or('started') }} as started,
        max(case when n_first_start = 1 then started_at_ms end) as started_at_ms,
        max(case when n_first_start = 1 then startup_ms end) as startup_ms,
        {{ summed(['played_ms', 'stalled_ms', 'stall_count', 'seek_ms']) }},
        {{ dbt.bool_or('failed') }} as failed,
        {{ dbt.bool_or('ended') }} as ended,
        max(case when n_last_end = 1 then ended_at_ms end) as ended_at_ms,
        max(case when n_last_end = 1 then end_reason end) as end_reason,
        max(max_playhead_ms) as max_playhead_ms,
        {{ summed(['bitrate_weighted', 'event_count']) }},
        max(processed_at_ms) as last_processed_at_ms

    from ranked_partials

    group by 1, 2

),

final as (

    select * from merged

)

select * from final
