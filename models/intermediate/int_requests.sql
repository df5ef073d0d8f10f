{#-
    One row per request (prompt or query), with its session, its tokens, and the request that
    followed it in the same session (what rephrase and re-request signals compare against).

    The next request is the user's next request in client time (ties: received_at, then
    event_id, the order of int_sessionized_events), kept when it falls in the session of this
    request or in the session where this request's answer was first shown. The two differ
    only when the answer came more than the session gap after the request (a slow model, an
    offline client): the session then splits between the request and its answer, and what the
    user did after seeing the answer (in the answer's session) still follows the request.
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

output_showings as (
    select * from {{ ref('int_output_showings') }}
    {{ flywheel.for_changed_users() }}
),

request_events as (
    select
        *,
        row_number() over (
            partition by request_id
            order by occurred_at, received_at, event_id
        ) as request_event_number
    from sessionized_events
    where event_type = 'request'
),

requests as (
    select
        request_id,
        user_id,
        surface,
        session_id,
        occurred_at as requested_at,
        received_at as request_received_at,
        event_id as request_event_id,
        text as request_text,
        {{ flywheel.tokenize('text') }} as request_tokens
    from request_events
    where request_event_number = 1
),

showings as (
    -- the request's earliest showing is the earliest first showing of its outputs
    select
        request_id,
        session_id,
        shown_at,
        row_number() over (
            partition by request_id
            order by shown_at, shown_received_at, shown_event_id
        ) as showing_number
    from output_showings
),

first_showings as (
    select
        request_id,
        session_id as shown_session_id,
        shown_at as first_shown_at
    from showings
    where showing_number = 1
),

with_following as (
    select
        requests.*,
        first_showings.shown_session_id,
        first_showings.first_shown_at,
        lead(requests.request_id) over (
            partition by requests.user_id
            order by requests.requested_at, requests.request_received_at, requests.request_event_id
        ) as following_request_id,
        lead(requests.session_id) over (
            partition by requests.user_id
            order by requests.requested_at, requests.request_received_at, requests.request_event_id
        ) as following_session_id,
        lead(requests.requested_at) over (
            partition by requests.user_id
            order by requests.requested_at, requests.request_received_at, requests.request_event_id
        ) as following_requested_at,
        lead(requests.request_tokens) over (
            partition by requests.user_id
            order by requests.requested_at, requests.request_received_at, requests.request_event_id
        ) as following_request_tokens
    from requests
    left join first_showings
        on requests.request_id = first_showings.request_id
),

with_next as (
    select
        *,
        coalesce(
            following_session_id = session_id or following_session_id = shown_session_id,
            false
        ) as is_followed_in_session
    from with_following
),

final as (
    select
        request_id,
        user_id,
        surface,
        session_id,
        requested_at,
        request_text,
        request_tokens,
        first_shown_at,
        shown_session_id,
        case when is_followed_in_session then following_request_id end as next_request_id,
        case when is_followed_in_session then following_requested_at end as next_requested_at,
        case
            when is_followed_in_session
                then {{ flywheel.token_jaccard('request_tokens', 'following_request_tokens') }}
        end as next_request_similarity,
        not is_followed_in_session as is_last_request_in_session,
        {{ flywheel.build_stamp() }}
    from with_next
)

select * from final
