{#
    The ad metrics of METRICS.md "Ads", written once for every ad mart (models/docs/
    ad_metrics.md, `ad_play_attribution`): counts over ad plays (stg_pipeline__ad_plays)
    where a quartile, skip or click counts only with its play's impression, and the rates
    over those counts, which therefore never exceed 100 %.
#}

{% macro ad_count_columns() -%}
    {{ return([
        'ad_impressions', 'ad_q25', 'ad_q50', 'ad_q75', 'ad_q100', 'ad_skips', 'ad_clicks',
        'ad_plays_without_impression', 'ad_quartiles_without_impression',
    ]) }}
{%- endmacro %}

{# The counts of `ad_count_columns()` over a group of ad plays (inside a group by). #}
{% macro ad_play_counts() -%}
    {%- set quartiles = ['reached_q25', 'reached_q50', 'reached_q75', 'reached_q100'] -%}
        cast(coalesce(sum(impressions), 0) as {{ dbt.type_bigint() }}) as ad_impressions,
        {% for flag, column in [
            ('reached_q25', 'ad_q25'), ('reached_q50', 'ad_q50'), ('reached_q75', 'ad_q75'),
            ('reached_q100', 'ad_q100'), ('skipped', 'ad_skips'), ('clicked', 'ad_clicks'),
        ] -%}
        count(case when impressions > 0 and {{ flag }} then 1 end) as {{ column }},
        {% endfor -%}
        count(case when impressions = 0 then 1 end) as ad_plays_without_impression,
        cast(coalesce(sum(case when impressions = 0 then
            {% for flag in quartiles -%}
            (case when {{ flag }} then 1 else 0 end){% if not loop.last %} + {% endif %}
            {%- endfor %}
        end), 0) as {{ dbt.type_bigint() }}) as ad_quartiles_without_impression
{%- endmacro %}

{# The same counts of groups of rows that already carry them (a rollup of an ad mart). #}
{% macro ad_counts_summed() -%}
    {{ summed(ad_count_columns()) }}
{%- endmacro %}

{# The rates over the counts of `ad_count_columns()` of the row. #}
{% macro ad_rates() -%}
        {{ pct('ad_q25', 'ad_impressions') }} as q25_reach_pct,
        {{ pct('ad_q50', 'ad_impressions') }} as q50_reach_pct,
        {{ pct('ad_q75', 'ad_impressions') }} as q75_reach_pct,
        {{ pct('ad_q100', 'ad_impressions') }} as q100_reach_pct,
        {{ pct('ad_q100', 'ad_impressions') }} as ad_completion_rate_pct,
        {{ pct('ad_skips', 'ad_impressions') }} as skip_rate_pct,
        {{ pct('ad_clicks', 'ad_impressions') }} as ctr_pct
{%- endmacro %}

{#
    A model that rolls ad_placement_daily_performance up to `keys` (`day` among them): the
    counts summed, `attributes` carried (one value per key, e.g. a content's creator), the
    rates over the sums. Incremental, as every ad rollup: whole days are rebuilt
    (delete+insert on the day) from the earliest day ad_placement_daily_performance
    rewrote since the table was built; the post-hook deletes the rows of those days that
    lost their last play.
#}
{% macro ad_rollup(keys, attributes=[]) -%}

{{ incremental_mart_config(['day'], strategy='delete+insert') }}
{{ config(post_hook="{{ delete_days_left_behind('day') }}") }}

with

{{ changed_since_cte([{
    'relation': ref('ad_placement_daily_performance'),
    'time_ms': timestamp_to_epoch_ms('day'),
}]) }}

placements as (

    select * from {{ ref('ad_placement_daily_performance') }}

    where {{ changed_days_filter('day') }}

),

summed as (

    select
        {% for key in keys -%}
        {{ key }},
        {% endfor -%}
        {% for attribute in attributes -%}
        max({{ attribute }}) as {{ attribute }},
        {% endfor -%}
        {{ ad_counts_summed() }}

    from placements

    group by {{ keys | join(', ') }}

),

final as (

    select
        *,
        {{ ad_rates() }}

    from summed

)

{{ select_build_stamped('final') }}

{%- endmacro %}
