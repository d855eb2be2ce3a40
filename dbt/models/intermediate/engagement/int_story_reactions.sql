{#
    One row per reaction to a story as the viewer-level facts keep it (story x viewer x
    time x reaction code), judged valid or invalid (EVENTS.md, METRICS.md): only a
    viewer's first reaction to a story can be valid, and only if it was not made after the
    story expired or was deleted. Later reactions of the same viewer are repeats; a
    reaction after expiry or deletion is invalid even when it is the viewer's first. Each row keeps the build stamp
    of its fact (staged_built_at_ms), by which incremental models downstream find new
    reactions in this table, rebuilt whole every build.

    Expiry is the catalogue's expires_at, else 24 h after publication (stories live 24 h);
    a story the catalogue does not know has no known expiry, so no reaction to it is
    judged expired. Ties at the same millisecond are ordered by reaction code, so the pick
    does not depend on which run saw which reaction.
#}

with

story_viewer_facts as (

    select * from {{ ref('stg_pipeline__story_viewer_facts') }}

    where fact = 'reacted'

),

content as (

    select * from {{ ref('stg_catalog__content') }}

),

ranked as (

    select
        story_id,
        viewer_key,
        at_ms,
        reaction,
        built_at_ms as staged_built_at_ms,
        row_number() over (
            partition by story_id, viewer_key order by at_ms, reaction
        ) as n_reaction_of_viewer

    from story_viewer_facts

),

with_expiry as (

    select
        ranked.*,
        {{ story_expires_at_ms('content') }} as expires_at_ms,
        content.deleted_at_ms

    from ranked

    left join content
        on ranked.story_id = content.content_id

),

final as (

    select
        story_id,
        viewer_key,
        at_ms,
        reaction,
        n_reaction_of_viewer,
        expires_at_ms,
        deleted_at_ms,
        coalesce(at_ms > expires_at_ms, false) as is_after_expiry,
        coalesce(at_ms > deleted_at_ms, false) as is_after_deletion,
        n_reaction_of_viewer > 1 as is_repeat,
        n_reaction_of_viewer = 1
        and not coalesce(at_ms > expires_at_ms, false)
        and not coalesce(at_ms > deleted_at_ms, false) as is_valid,
        staged_built_at_ms

    from with_expiry

)

select * from final
