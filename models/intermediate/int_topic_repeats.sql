{#-
    Requests whose topic the same user asked about again hours later: a later request with
    token Jaccard similarity >= flywheel__rephrase_similarity, between
    flywheel__topic_repeat_min_hours and flywheel__topic_repeat_max_hours after this one.
    A set-similarity join: only pairs sharing a token are compared, and the shared-token count
    gives the Jaccard similarity directly (|A ∩ B| / (|A| + |B| - |A ∩ B|)), which keeps the
    cost near linear in requests instead of quadratic per user.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
with

{{ flywheel.changed_users_cte() }}

requests as (
    select * from {{ ref('int_requests') }}
    {{ flywheel.for_changed_users() }}
),

request_tokens as (
    select
        request_id,
        user_id,
        requested_at,
        {{ flywheel.array_size('request_tokens') }} as n_tokens,
        {{ flywheel.unnest_array('request_tokens') }} as token
    from requests
),

candidate_pairs as (
    select
        asked.request_id,
        asked.user_id,
        later.request_id as later_request_id,
        min(later.requested_at) as later_requested_at,
        min(asked.n_tokens) as n_asked_tokens,
        min(later.n_tokens) as n_later_tokens,
        count(*) as n_shared_tokens
    from request_tokens as asked
    inner join request_tokens as later
        on asked.user_id = later.user_id
        and asked.token = later.token
        and later.requested_at >= {{
            dbt.dateadd('hour', var('flywheel__topic_repeat_min_hours'), 'asked.requested_at')
        }}
        and later.requested_at <= {{
            dbt.dateadd('hour', var('flywheel__topic_repeat_max_hours'), 'asked.requested_at')
        }}
    group by asked.request_id, asked.user_id, later.request_id
),

similar_pairs as (
    select *
    from candidate_pairs
    where cast(n_shared_tokens as {{ flywheel.type_double() }}) / (n_asked_tokens + n_later_tokens - n_shared_tokens)
        >= {{ var('flywheel__rephrase_similarity') }}
),

final as (
    select
        request_id,
        user_id,
        min(later_requested_at) as topic_repeated_at,
        count(*) as n_topic_repeats,
        {{ flywheel.build_stamp() }}
    from similar_pairs
    group by request_id, user_id
)

select * from final
