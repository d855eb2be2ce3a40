{{ incremental_mart_config(['app_id', 'session_id']) }}

{#
    The SQL twin of pipelines.views.finalize_views, plus the Mux-style scores and the
    catalogue's attributes.

    Incremental runs rebuild only the views that can have changed since the last build:
    - those staging rewrote since then: stamped by a staging build (built_at_ms) newer than
      any this table has read (staged_built_at_ms), which holds however the pipeline's runs
      were ordered (streaming batches commit in any order);
    - those still open, whose state (and EBVS) moves with "now" alone;
    - those of content whose catalogue record, or its owner's, changed since then
      (macros/catalogue_changes.sql): title, duration, owner and creator name are copied.
    Every other view is final: no new partial, dropped or ended, its catalogue unchanged.
#}

with

view_summaries as (

    select * from {{ ref('stg_pipeline__view_summaries') }} as staged  -- noqa: AL05

    {% if is_incremental() -%}
    where
        staged.built_at_ms > {{ built_max('staged_built_at_ms') }}
        or exists (
            select 1 from {{ this }} as built
            where
                built.view_state = 'open'
                and built.app_id = staged.app_id
                and built.session_id = staged.session_id
        )
        or {{ catalogue_changed_since('staged.content_id', 'staged.creator_id') }}
    {%- endif %}

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

creators as (

    select * from {{ ref('stg_catalog__creators') }}

),

with_catalogue as (

    select
        view_summaries.*,
        coalesce(content.creator_id, view_summaries.creator_id) as owner_creator_id,
        content.title as content_title,
        content.duration_ms,
        coalesce(
            view_summaries.play_requested_ms, view_summaries.first_event_ms
        ) as view_start_ms,
        coalesce(view_summaries.startup_ms, 0)
        + view_summaries.played_ms
        + view_summaries.stalled_ms
        + view_summaries.seek_ms as watched_ms,
        case
            when view_summaries.ended then 'ended'
            when {{ now_epoch_ms() }} - view_summaries.last_event_ms > 60000 then 'dropped'
            else 'open'
        end as view_state,
        case
            -- A CASE, not least(): DuckDB's least() skips NULLs, Snowflake's returns NULL.
            when
                view_summaries.content_type <> 'live'
                and content.duration_ms > 0
                and view_summaries.max_playhead_ms >= content.duration_ms
                then 1.0
            when view_summaries.content_type <> 'live' and content.duration_ms > 0
                then 1.0 * view_summaries.max_playhead_ms / content.duration_ms
        end as percent_reached

    from view_summaries

    left join content
        on view_summaries.content_id = content.content_id

),

final as (

    select
        with_catalogue.app_id,
        with_catalogue.session_id,
        with_catalogue.view_start_ms,
        {{ epoch_ms_to_timestamp('with_catalogue.view_start_ms') }} as view_started_at,
        cast({{ epoch_ms_to_timestamp('with_catalogue.view_start_ms') }} as date) as view_date,
        {{ epoch_ms_to_epoch_minute('with_catalogue.view_start_ms') }} as view_start_minute,
        with_catalogue.first_event_ms,
        with_catalogue.last_event_ms,
        with_catalogue.content_id,
        with_catalogue.content_type,
        with_catalogue.content_title,
        with_catalogue.duration_ms,
        with_catalogue.owner_creator_id as creator_id,
        creators.creator_name,
        with_catalogue.platform,
        with_catalogue.country,
        with_catalogue.viewer_key,
        with_catalogue.app_version,
        with_catalogue.os,
        with_catalogue.device,
        with_catalogue.surface,
        with_catalogue.view_state,
        with_catalogue.started as is_started,
        with_catalogue.startup_ms,
        with_catalogue.played_ms,
        with_catalogue.stalled_ms,
        with_catalogue.stall_count,
        with_catalogue.seek_ms,
        with_catalogue.watched_ms,
        with_catalogue.failed as is_failed,
        with_catalogue.failed and not with_catalogue.started as is_vsf,
        not with_catalogue.started
        and not with_catalogue.failed
        and with_catalogue.view_state in ('ended', 'dropped') as is_ebvs,
        with_catalogue.ended as is_ended,
        with_catalogue.end_reason,
        with_catalogue.max_playhead_ms,
        with_catalogue.percent_reached,
        coalesce(with_catalogue.end_reason = 'completed', false)
        or coalesce(with_catalogue.percent_reached >= 0.99, false) as is_completed,
        with_catalogue.bitrate_weighted,
        {{ safe_ratio('with_catalogue.bitrate_weighted', 'with_catalogue.played_ms') }}
            as avg_bitrate_kbps,
        case
            when with_catalogue.started
                then {{ pct('with_catalogue.stalled_ms', 'with_catalogue.watched_ms') }}
        end as rebuffer_pct,
        case
            when with_catalogue.started
                then 100.0 * 8 / (8 + coalesce(with_catalogue.startup_ms, 0) / 1000.0)
        end as startup_score,
        case
            when with_catalogue.started and with_catalogue.watched_ms > 0
                then (
                    100.0 / sqrt(1 + power(with_catalogue.stall_count / 2.0, 2))
                    + 100.0 * exp(-10.0 * with_catalogue.stalled_ms / with_catalogue.watched_ms)
                ) / 2
        end as smoothness_score,
        with_catalogue.event_count,
        with_catalogue.last_processed_at_ms,
        with_catalogue.built_at_ms as staged_built_at_ms

    from with_catalogue

    left join creators
        on with_catalogue.owner_creator_id = creators.creator_id

)

{{ select_build_stamped('final') }}
