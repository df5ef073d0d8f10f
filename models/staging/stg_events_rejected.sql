{#-
    Every raw row that breaks the event contract, as it arrived (text as read, before trimming
    or parsing), with the first rule it breaks; `raw_line` holds an unreadable JSON line.
-#}
with

validated_events as (
    select * from {{ ref('base_events__validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_event_id as event_id,
        raw_occurred_at as occurred_at,
        raw_received_at as received_at,
        raw_user_id as user_id,
        raw_surface as surface,
        raw_event_type as event_type,
        raw_request_id as request_id,
        raw_output_id as output_id,
        raw_model_version as model_version,
        properties,
        raw_line
    from validated_events
    where rejection_reason is not null
)

select * from rejected
