{#
    The SQL twin of pipelines.views.merge_view_partials: every run's partial of a view
    merged into one row. Every pick has a total order, so the result does not depend on
    which runs saw which events.

    Incremental (macros/incremental_staging.sql): a plain build merges the new runs'
    partials with the built rows of the views they touch. Every pick is of the least or
    greatest partial in a total order, and a built row carries exactly the picked partial's
    columns, so picking among it and the new partials picks what all partials would.

    surface (the view's play_requested.surface) is the least given, as the pipeline's
    merge takes it; NULL without one, and in run files landed before it existed.

    The QoE dimensions app_version, os and device (normalised by the pipeline) are NULL in
    run files landed before they existed: such a partial counts as 'unknown', as the
    pipeline writes a partial whose events gave none.
#}
{% set key_columns = ['app_id', 'session_id'] %}
{% set dimension_columns = ['app_version', 'os', 'device'] %}
{% set partial_columns = key_columns + [
    'first_event_ms', 'last_event_ms', 'play_requested_ms', 'content_id', 'creator_id',
    'content_type', 'platform', 'country', 'viewer_key', 'app_version', 'os', 'device',
    'started', 'started_at_ms', 'startup_ms', 'played_ms', 'stalled_ms', 'stall_count',
    'seek_ms', 'failed', 'ended', 'ended_at_ms', 'end_reason', 'max_playhead_ms',
    'bitrate_weighted', 'event_count', 'surface',
] %}

{{ incremental_staging_config('view_summaries', key_columns) }}

with

source as (

    {{ partials_to_merge('view_summaries', key_columns, partial_columns) }}

),

multi_partial_keys as (

    {{ keys_of_several_partials('source', key_columns) }}

),

ranked_partials as (

    select
        *,
        -- Descriptive columns: of the least (first_event_ms, content_id, ..., device).
        row_number() over (
            partition by app_id, session_id
            order by
                first_event_ms, content_id, creator_id, content_type, platform, country,
                viewer_key,
                {%- for column in dimension_columns %}
                coalesce({{ column }}, 'unknown'){% if not loop.last %},{% endif %}
                {%- endfor %}
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

    where {{ has_several_partials('multi_partial_keys', none, key_columns) }}

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
        {%- for column in dimension_columns %}
        max(case when n_earliest = 1 then coalesce({{ column }}, 'unknown') end) as {{ column }},
        {%- endfor %}
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
        min(surface) as surface,
        max(processed_at_ms) as last_processed_at_ms

    from ranked_partials

    group by 1, 2

),

-- A view seen by one run only is its own merge (its columns as merged above would give).
single_partials as (

    select
        app_id,
        session_id,
        first_event_ms,
        last_event_ms,
        play_requested_ms,
        content_id,
        creator_id,
        content_type,
        platform,
        country,
        viewer_key,
        {%- for column in dimension_columns %}
        coalesce({{ column }}, 'unknown') as {{ column }},
        {%- endfor %}
        started,
        started_at_ms,
        startup_ms,
        {{ summed(['played_ms', 'stalled_ms', 'stall_count', 'seek_ms'], single_row=true) }},
        failed,
        ended,
        ended_at_ms,
        end_reason,
        max_playhead_ms,
        {{ summed(['bitrate_weighted', 'event_count'], single_row=true) }},
        surface,
        processed_at_ms as last_processed_at_ms

    from source

    where not {{ has_several_partials('multi_partial_keys', none, key_columns) }}

),

final as (

    select * from merged

    union all

    select * from single_partials

)

{{ select_build_stamped('final') }}
