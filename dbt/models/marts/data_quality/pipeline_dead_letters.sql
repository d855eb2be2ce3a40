{#
    The pipeline's dead letters by reason: records it could not parse or use
    (`unparseable_record`, `missing_required_field`, `invalid_event_id`,
    `beyond_allowed_lateness`) and events it set aside (`content_type_conflict`: the event
    named another type than the one decided for its content). The API's rejections are in
    rejected_events_hourly.
#}

with

dead_letters as (

    select * from {{ ref('stg_pipeline__dead_letters') }}

),

final as (

    select
        reason,
        count(*) as dead_letters,
        count(distinct run_id) as runs,
        max(run_id) as last_run_id

    from dead_letters

    group by 1

)

select * from final
