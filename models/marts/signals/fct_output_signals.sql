{#-
    One row per model output, one column per implicit signal (README "Signals"). Signals that
    do not apply to a surface are null or false there. Time-based signals use client time
    (occurred_at), so the order in which events arrived does not matter. Events about outputs
    that were never shown are ignored.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
{%- set retention_windows = var('flywheel__retention_windows_seconds') -%}
{%- set similar = var('flywheel__rephrase_similarity') -%}

with

{{ flywheel.changed_users_cte() }}

outputs as (
    select * from {{ ref('int_model_outputs') }}
    {{ flywheel.for_changed_users() }}
),

requests as (
    select * from {{ ref('int_requests') }}
    {{ flywheel.for_changed_users() }}
),

events as (
    select * from {{ ref('stg_events') }}
    {{ flywheel.for_changed_users() }}
),

topic_repeats as (
    select * from {{ ref('int_topic_repeats') }}
    {{ flywheel.for_changed_users() }}
),

output_events as (
    select events.*
    from events
    inner join outputs
        on events.output_id = outputs.output_id
    where events.event_type != 'output_shown'
),

clicks_ranked as (
    select
        output_id,
        result_position,
        row_number() over (
            partition by output_id order by occurred_at, received_at, event_id
        ) as click_number
    from output_events
    where event_type = 'click'
),

first_clicks as (
    select
        output_id,
        result_position as first_click_position
    from clicks_ranked
    where click_number = 1
),

ratings_ranked as (
    select
        output_id,
        rating,
        row_number() over (
            partition by output_id order by occurred_at desc, received_at desc, event_id desc
        ) as rating_recency
    from output_events
    where event_type = 'feedback'
),

last_ratings as (
    select
        output_id,
        rating as explicit_rating
    from ratings_ranked
    where rating_recency = 1
),

actions as (
    select
        output_id,
        min(case when event_type = 'accept' then occurred_at end) as first_accepted_at,
        min(case when event_type = 'reject' then occurred_at end) as first_rejected_at,
        max(case when event_type = 'edit' then share_rewritten end) as max_share_rewritten,
        count(case when event_type = 'copy' then 1 end) as n_copies,
        min(case when event_type = 'copy' then occurred_at end) as first_copied_at,
        count(case when event_type = 'click' then 1 end) as n_clicks,
        max(case when event_type = 'click' then dwell_seconds end) as max_click_dwell_seconds,
        -- every event of the user about the output (accept, reject, edit, revert, copy, click,
        -- feedback): any of them means the output was not left unanswered
        count(*) as n_reactions
    from output_events
    group by output_id
),

reverts as (
    -- the first revert at or after the first accept: a revert with no accept reverts nothing
    select
        output_events.output_id,
        min(output_events.occurred_at) as first_reverted_at
    from output_events
    inner join actions
        on output_events.output_id = actions.output_id
    where output_events.event_type = 'revert'
        and output_events.occurred_at >= actions.first_accepted_at
    group by output_events.output_id
),

joined as (
    select
        outputs.output_id,
        outputs.request_id,
        outputs.user_id,
        outputs.session_id,
        outputs.surface,
        outputs.label_task,
        outputs.model_version,
        outputs.shown_at,
        outputs.shown_date,
        outputs.times_shown,
        actions.first_accepted_at,
        actions.first_rejected_at,
        actions.max_share_rewritten,
        coalesce(actions.n_copies, 0) as n_copies,
        actions.first_copied_at,
        coalesce(actions.n_clicks, 0) as n_clicks,
        actions.max_click_dwell_seconds,
        coalesce(actions.n_reactions, 0) as n_reactions,
        first_clicks.first_click_position,
        reverts.first_reverted_at,
        last_ratings.explicit_rating,
        requests.request_id is not null as has_request,
        requests.is_last_request_in_session,
        requests.next_requested_at,
        requests.next_request_similarity,
        topic_repeats.topic_repeated_at
    from outputs
    left join actions
        on outputs.output_id = actions.output_id
    left join first_clicks
        on outputs.output_id = first_clicks.output_id
    left join reverts
        on outputs.output_id = reverts.output_id
    left join last_ratings
        on outputs.output_id = last_ratings.output_id
    left join requests
        on outputs.request_id = requests.request_id
    left join topic_repeats
        on outputs.request_id = topic_repeats.request_id
),

signals as (
    select
        output_id,
        request_id,
        user_id,
        session_id,
        surface,
        label_task,
        model_version,
        shown_at,
        shown_date,
        times_shown,

        -- code: the decision on the suggestion
        first_accepted_at is not null as is_accepted,
        first_accepted_at is null and first_rejected_at is not null as is_rejected,
        first_accepted_at is null and first_rejected_at is null as is_ignored,
        first_accepted_at,
        {{ flywheel.seconds_between('shown_at', 'least(first_accepted_at, first_rejected_at)') }}
            as dwell_seconds,
        case when first_accepted_at is not null then max_share_rewritten end as share_rewritten,
        first_reverted_at,
        {{ flywheel.seconds_between('first_accepted_at', 'first_reverted_at') }}
            as reverted_after_seconds,
        {%- for window in retention_windows %}
            case
                when first_accepted_at is null then null
                when first_reverted_at is not null
                    and {{ flywheel.seconds_between('first_accepted_at', 'first_reverted_at') }} <= {{ window }}
                    then false
                else true
            end as is_retained_{{ flywheel.window_label(window) }},
        {%- endfor %}

        -- follow-up requests in the same session
        {{ flywheel.seconds_between('shown_at', 'next_requested_at') }} as seconds_to_next_request,
        next_request_similarity,
        coalesce(next_request_similarity >= {{ similar }}, false) as is_rephrased,
        coalesce(
            next_request_similarity >= {{ similar }}
            and {{ flywheel.seconds_between('shown_at', 'next_requested_at') }}
            <= {{ var('flywheel__rerequest_window_seconds') }},
            false
        ) as is_rerequested,
        coalesce(next_request_similarity < {{ similar }}, false) as is_followed_by_new_request,

        -- engagement
        n_copies > 0 as is_copied,
        n_copies,
        n_clicks > 0 as is_clicked,
        n_clicks,
        first_click_position,
        max_click_dwell_seconds,
        coalesce(max_click_dwell_seconds >= {{ var('flywheel__long_click_dwell_seconds') }}, false)
            as is_long_click,

        -- leaving: the session ends on this output's request and the user did nothing with
        -- the output (no accept, reject, edit, revert, copy, click or rating)
        case
            when not has_request then null
            else is_last_request_in_session and n_reactions = 0
        end as is_session_abandoned,
        topic_repeated_at is not null as is_topic_repeated,
        {{ flywheel.seconds_between('shown_at', 'topic_repeated_at') }} / 3600.0
            as hours_to_topic_repeat,

        -- explicit feedback: rare and biased; a signal and a gold label, never the label
        explicit_rating,
        explicit_rating is not null as has_explicit_rating,
        {{ flywheel.build_stamp() }}
    from joined
)

select * from signals
