{#-
    Valid events with the session they belong to. A session is a user's run of events (all
    surfaces) with no gap longer than flywheel__session_gap_minutes between consecutive client
    times. Ties on occurred_at are ordered by received_at, then event_id, so the order is total
    and a rerun gives the same sessions. session_id hashes the user and the session's first
    event time: stable when later events extend the session.
-#}
with

events as (
    select * from {{ ref('stg_events') }}
),

with_previous as (
    select
        *,
        lag(occurred_at) over (
            partition by user_id
            order by occurred_at, received_at, event_id
        ) as previous_occurred_at
    from events
),

flagged as (
    select
        *,
        case
            when previous_occurred_at is null then 1
            when
                {{ flywheel.seconds_between('previous_occurred_at', 'occurred_at') }}
                > {{ var('flywheel__session_gap_minutes') }} * 60 then 1
            else 0
        end as is_session_start
    from with_previous
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by user_id
            order by occurred_at, received_at, event_id
            rows between unbounded preceding and current row
        ) as user_session_number
    from flagged
),

bounded as (
    select
        *,
        min(occurred_at) over (partition by user_id, user_session_number) as session_started_at,
        max(occurred_at) over (partition by user_id, user_session_number) as session_ended_at,
        row_number() over (
            partition by user_id, user_session_number
            order by occurred_at, received_at, event_id
        ) as position_in_session
    from numbered
),

final as (
    select
        event_id,
        {{ dbt.hash(dbt.concat([
            'user_id', "'|'", dbt.cast('session_started_at', api.Column.translate_type('string'))
        ])) }} as session_id,
        user_id,
        user_session_number,
        position_in_session,
        session_started_at,
        session_ended_at,
        occurred_at,
        received_at,
        surface,
        event_type,
        request_id,
        output_id,
        model_version,
        is_output_event,
        text,
        n_chars,
        n_results,
        share_rewritten,
        result_position,
        dwell_seconds,
        rating,
        arrival_delay_seconds
    from bounded
)

select * from final
