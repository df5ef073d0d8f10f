{#-
    One row per request (prompt or query), with its session, its tokens, and the request that
    followed it in the same session (what rephrase and re-request signals compare against).
-#}
with

sessionized_events as (
    select * from {{ ref('int_sessionized_events') }}
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
        text as request_text,
        {{ flywheel.tokenize('text') }} as request_tokens
    from request_events
    where request_event_number = 1
),

with_next as (
    select
        *,
        lead(request_id) over (
            partition by session_id order by requested_at, request_id
        ) as next_request_id,
        lead(requested_at) over (
            partition by session_id order by requested_at, request_id
        ) as next_requested_at,
        lead(request_tokens) over (
            partition by session_id order by requested_at, request_id
        ) as next_request_tokens
    from requests
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
        next_request_id,
        next_requested_at,
        {{ flywheel.token_jaccard('request_tokens', 'next_request_tokens') }}
            as next_request_similarity,
        next_request_id is null as is_last_request_in_session
    from with_next
)

select * from final
