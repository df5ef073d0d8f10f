{#-
    One row per model output that was shown: its first output_shown event (in client time;
    ties: received_at, then event_id) and how many times it was shown. The one place "first
    showing" is decided: int_model_outputs builds on it, and int_requests takes each request's
    earliest showing from it. What the output said (text, n_chars, n_results) is the first
    delivery's (by received_at): a re-send with an earlier client time cannot rewrite it.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
with

{{ flywheel.changed_users_cte() }}

sessionized_events as (
    select * from {{ ref('int_sessionized_events') }}
    {{ flywheel.for_changed_users() }}
),

showings as (
    select
        *,
        row_number() over (
            partition by output_id
            order by occurred_at, received_at, event_id
        ) as showing_number,
        row_number() over (
            partition by output_id
            order by received_at, occurred_at, event_id
        ) as delivery_number,
        count(*) over (partition by output_id) as times_shown
    from sessionized_events
    where event_type = 'output_shown'
),

first_deliveries as (
    select
        output_id,
        text as output_text,
        n_chars as output_n_chars,
        n_results
    from showings
    where delivery_number = 1
),

final as (
    select
        showings.output_id,
        showings.request_id,
        showings.user_id,
        showings.surface,
        showings.model_version,
        showings.session_id,
        showings.occurred_at as shown_at,
        showings.received_at as shown_received_at,
        showings.event_id as shown_event_id,
        showings.times_shown,
        first_deliveries.output_text,
        first_deliveries.output_n_chars,
        first_deliveries.n_results,
        {{ flywheel.build_stamp() }}
    from showings
    inner join first_deliveries
        on showings.output_id = first_deliveries.output_id
    where showings.showing_number = 1
)

select * from final
