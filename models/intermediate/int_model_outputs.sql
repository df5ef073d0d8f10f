{#-
    One row per model output shown to a user: the unit we label. Built from output_shown
    events (the first showing wins; showings are counted), with the request it answers and the
    label task of its surface. Events about an output that was never shown do not make a row.
-#}
with

sessionized_events as (
    select * from {{ ref('int_sessionized_events') }}
),

requests as (
    select * from {{ ref('int_requests') }}
),

label_tasks as (
    select * from {{ ref('label_tasks') }}
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

first_showings as (
    select * from showings where showing_number = 1
),

final as (
    select
        first_showings.output_id,
        first_showings.request_id,
        first_showings.user_id,
        first_showings.surface,
        label_tasks.label_task,
        first_showings.model_version,
        first_showings.session_id,
        first_showings.occurred_at as shown_at,
        cast(first_showings.occurred_at as date) as shown_date,
        first_showings.times_shown,
        first_showings.text as output_text,
        first_showings.n_chars as output_n_chars,
        first_showings.n_results,
        requests.requested_at,
        requests.request_text
    from first_showings
    inner join label_tasks
        on first_showings.surface = label_tasks.surface
    left join requests
        on first_showings.request_id = requests.request_id
)

select * from final
