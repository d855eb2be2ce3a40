with

rejections as (

    select * from {{ ref('stg_quarantine__rejections') }}

),

final as (

    select
        {{ dbt.date_trunc('hour', 'quarantined_at') }} as hour_start_at,
        coalesce(app_id, '') as app_id,
        reason,
        count(*) as rejected_events,
        cast(
            sum(case when is_whole_body then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as rejected_bodies,
        max(quarantined_at) as last_rejected_at

    from rejections

    group by 1, 2, 3

)

select * from final
