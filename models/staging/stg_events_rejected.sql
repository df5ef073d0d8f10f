{#- Every raw row that breaks the event contract, as it arrived, with the first rule it breaks. -#}
with

validated_events as (
    select * from {{ ref('base_events__validated') }}
),

rejected as (
    select
        rejection_reason,
        event_id,
        raw_occurred_at as occurred_at,
        raw_received_at as received_at,
        user_id,
        surface,
        event_type,
        request_id,
        output_id,
        model_version,
        properties
    from validated_events
    where rejection_reason is not null
)

select * from rejected
