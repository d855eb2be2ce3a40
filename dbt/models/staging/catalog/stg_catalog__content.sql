{{ config(materialized='table') }}
{# A table, not a view: the DuckDB source lists a file relative to the project directory. #}

with

source as (

    select * from {{ source('catalog', 'content') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by content_id order by creator_id, content_type, published_at
        ) as n_record

    from source

    where content_id is not null

),

timed as (

    select
        cast(content_id as {{ dbt.type_string() }}) as content_id,
        cast(creator_id as {{ dbt.type_string() }}) as creator_id,
        cast(content_type as {{ dbt.type_string() }}) as content_type,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(duration_ms as {{ dbt.type_bigint() }}) as duration_ms,
        {{ iso_to_utc_timestamp('published_at') }} as published_at,
        {{ iso_to_utc_timestamp('expires_at') }} as expires_at,
        {{ iso_to_utc_timestamp('deleted_at') }} as deleted_at,
        cast(announces_live_id as {{ dbt.type_string() }}) as announces_live_id,
        cast(source_live_id as {{ dbt.type_string() }}) as source_live_id

    from ranked

    where n_record = 1

),

final as (

    select
        *,
        {{ timestamp_to_epoch_ms('published_at') }} as published_at_ms,
        {{ timestamp_to_epoch_ms('expires_at') }} as expires_at_ms,
        {{ timestamp_to_epoch_ms('deleted_at') }} as deleted_at_ms

    from timed

)

{{ select_change_stamped('final', 'content_id', [
    'creator_id', 'content_type', 'title', 'duration_ms', 'published_at', 'expires_at',
    'deleted_at', 'announces_live_id', 'source_live_id',
]) }}
