{#-
    One row per model output that was shown: its first output_shown event (in client time;
    ties: received_at, then event_id) and how many times it was shown. The one place "first
    showing" is decided: int_model_outputs builds on it, and int_requests takes each request's
    earliest showing from it.
-#}
with

sessionized_events as (
    select * from {{ ref('int_sessionized_events') }}
),

showings as (
    select
        *,
        row_number() over (
            partition by output_id
            order by occurred_at, received_at, event_id
        ) as showing_number,
        count(*) over (partition by output_id) as times_shown
    from sessionized_events
    where event_type = 'output_shown'
),

final as (
    select
        output_id,
        request_id,
        user_id,
        surface,
        model_version,
        session_id,
        occurred_at as shown_at,
        received_at as shown_received_at,
        event_id as shown_event_id,
        times_shown,
        text as output_text,
        n_chars as output_n_chars,
        n_results
    from showings
    where showing_number = 1
)

select * from final
