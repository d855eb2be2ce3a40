{#
    The SQL twin of pipelines.ads.merge_ad_plays: every run's partial of an ad play merged
    into one row (min, sum, bool-or and max, so the result does not depend on which runs
    saw which events). position and ad_format stay NULL where no event named them.

    Incremental (macros/incremental_staging.sql): a plain build merges only the runs not
    merged yet into the rows of the plays they touch.
#}
{% set key_columns = ['app_id', 'session_id', 'ad_break_id', 'ad_id'] %}
{% set flag_columns = [
    'reached_q25', 'reached_q50', 'reached_q75', 'reached_q100', 'skipped', 'clicked',
] %}
{% set partial_columns = key_columns + [
    'content_id', 'creator_id', 'content_type', 'position', 'ad_format', 'first_event_ms',
    'impression_ms', 'impressions',
] + flag_columns %}

{{ incremental_staging_config('ad_plays', key_columns) }}

with

source as (

    {{ partials_to_merge('ad_plays', key_columns, partial_columns) }}

),

merged as (

    select
        app_id,
        session_id,
        ad_break_id,
        ad_id,
        max(content_id) as content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        max(position) as position,  -- noqa: RF04
        max(ad_format) as ad_format,
        min(first_event_ms) as first_event_ms,
        min(impression_ms) as impression_ms,
        cast(coalesce(sum(impressions), 0) as {{ dbt.type_bigint() }}) as impressions,
        {{ dbt.bool_or('reached_q25') }} as reached_q25,
        {{ dbt.bool_or('reached_q50') }} as reached_q50,
        {{ dbt.bool_or('reached_q75') }} as reached_q75,
        {{ dbt.bool_or('reached_q100') }} as reached_q100,
        {{ dbt.bool_or('skipped') }} as skipped,
        {{ dbt.bool_or('clicked') }} as clicked,
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3, 4

),

final as (

    select * from merged

)

{{ select_build_stamped('final') }}
