{{ incremental_mart_config(['view_date', 'content_id']) }}
{# A (day, content) row whose last view started earlier after a late event goes. #}
{{ config(post_hook="{{ delete_rows_left_behind('view_date') }}") }}

with

{{ changed_since_cte([{'relation': ref('playback_sessions'), 'time_ms': 'view_start_ms'}]) }}

views as (

    select * from {{ ref('playback_sessions') }}

    where
        {{ changed_days_filter('view_date') }}
        and {{ changed_content_filter() }}

),

final as (

    select
        view_date,
        content_id,
        max(creator_id) as creator_id,
        max(content_type) as content_type,
        {{ view_set_metrics() }},
        max(view_start_ms) as last_view_start_ms,
        max(built_at_ms) as views_built_at_ms

    from views

    group by 1, 2

)

{{ select_build_stamped('final') }}
