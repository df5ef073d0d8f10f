{#-
    Valid events with the session they belong to. A session is a user's run of events (all
    surfaces) with no gap longer than flywheel__session_gap_minutes between consecutive client
    times. Ties on occurred_at are ordered by received_at, then event_id, so the order is total
    and a rerun gives the same sessions. session_id hashes the user and the session's first
    event time: stable when later events extend the session.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
with

{{ flywheel.changed_users_cte() }}

events as (
    select * from {{ ref('stg_events') }}
    {{ flywheel.for_changed_users() }}
),

with_neighbours as (
    -- one pass in user order: the previous and next client times, and the row's place
    select
        *,
        lag(occurred_at) over user_order as previous_occurred_at,
        lead(occurred_at) over user_order as next_occurred_at,
        row_number() over user_order as user_event_number
    from events
    window user_order as (partition by user_id order by occurred_at, received_at, event_id)
),

flagged as (
    -- a session starts after a gap (or at the user's first event) and ends before one
    select
        *,
        case
            when previous_occurred_at is null then 1
            when
                {{ flywheel.seconds_between('previous_occurred_at', 'occurred_at') }}
                > {{ var('flywheel__session_gap_minutes') }} * 60 then 1
            else 0
        end as is_session_start,
        case
            when next_occurred_at is null then true
            when
                {{ flywheel.seconds_between('occurred_at', 'next_occurred_at') }}
                > {{ var('flywheel__session_gap_minutes') }} * 60 then true
            else false
        end as is_session_end
    from with_neighbours
),

bounded as (
    -- a second pass in the same order (instead of a third, per session): occurred_at never
    -- decreases in it, so the session's first time is its last start's so far, its last time
    -- the first end from here on, and the position counts from the last start
    select
        *,
        sum(is_session_start) over running as user_session_number,
        max(case when is_session_start = 1 then occurred_at end) over running as session_started_at,
        min(case when is_session_end then occurred_at end) over remaining as session_ended_at,
        user_event_number
        - max(case when is_session_start = 1 then user_event_number end) over running
        + 1 as position_in_session
    from flagged
    window
        running as (
            partition by user_id
            order by occurred_at, received_at, event_id
            rows between unbounded preceding and current row
        ),
        remaining as (
            partition by user_id
            order by occurred_at, received_at, event_id
            rows between current row and unbounded following
        )
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
        arrival_delay_seconds,
        {{ flywheel.build_stamp() }}
    from bounded
)

select * from final
