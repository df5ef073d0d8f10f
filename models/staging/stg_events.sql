{#- Valid events, one row per event_id (the first delivery), typed, properties as columns. -#}
with

validated_events as (
    select * from {{ ref('base_events__validated') }}
),

valid as (
    select
        event_id,
        occurred_at,
        received_at,
        user_id,
        surface,
        event_type,
        request_id,
        case when is_output_event then output_id end as output_id,
        model_version,
        is_output_event,
        property_text as text,
        property_n_chars as n_chars,
        property_n_results as n_results,
        property_share_rewritten as share_rewritten,
        property_position as result_position,
        property_dwell_seconds as dwell_seconds,
        property_rating as rating,
        {{ flywheel.seconds_between('occurred_at', 'received_at') }} as arrival_delay_seconds,
        properties
    from validated_events
    where rejection_reason is null
        and not is_duplicate
)

select * from valid
