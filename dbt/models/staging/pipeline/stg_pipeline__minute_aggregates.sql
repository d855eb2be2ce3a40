with

source as (

    select * from {{ source('pipeline', 'minute_aggregates') }}

),

summed_across_runs as (

    select
        epoch_minute,
        content_id,
        creator_id,
        content_type,
        platform,
        country,
        cast(sum(attempts) as {{ dbt.type_bigint() }}) as attempts,
        cast(sum(starts) as {{ dbt.type_bigint() }}) as starts,
        cast(sum(fatal_errors) as {{ dbt.type_bigint() }}) as fatal_errors,
        cast(sum(played_ms) as {{ dbt.type_bigint() }}) as played_ms,
        cast(sum(stalled_ms) as {{ dbt.type_bigint() }}) as stalled_ms,
        cast(sum(stall_count) as {{ dbt.type_bigint() }}) as stall_count,
        cast(sum(seek_ms) as {{ dbt.type_bigint() }}) as seek_ms,
        cast(sum(startup_ms_sum) as {{ dbt.type_bigint() }}) as startup_ms_sum,
        max(processed_at_ms) as last_processed_at_ms

    from source

    group by 1, 2, 3, 4, 5, 6

),

timestamped as (

    select
        *,
        {{ dbt.dateadd(
            'minute',
            'epoch_minute',
            "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")"
        ) }} as minute_start_at

    from summed_across_runs

),

final as (

    select
        epoch_minute,
        minute_start_at,
        cast(minute_start_at as date) as minute_date,
        content_id,
        creator_id,
        content_type,
        platform,
        country,
        attempts,
        starts,
        fatal_errors,
        played_ms,
        stalled_ms,
        stall_count,
        seek_ms,
        startup_ms_sum,
        last_processed_at_ms

    from timestamped

)

select * from final
