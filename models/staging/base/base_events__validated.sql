{#-
    Every raw row, typed, with the first rule it breaks (`rejection_reason`, null when valid) and
    whether it repeats an earlier valid row's event_id (`is_duplicate`). stg_events and
    stg_events_rejected are filters of this one model, so raw = valid + duplicates + rejected
    holds by construction, and tests/assert_raw_events_reconcile.sql checks it.
-#}
with

raw_events as (
    select * from {{ source('flywheel', 'raw_events') }}
),

event_types as (
    select * from {{ ref('event_types') }}
),

surfaces as (
    select distinct surface from {{ ref('label_tasks') }}
),

typed as (
    select
        cast(raw_events.event_id as {{ dbt.type_string() }}) as event_id,
        {{ flywheel.parse_utc_timestamp('raw_events.occurred_at') }} as occurred_at,
        {{ flywheel.parse_utc_timestamp('raw_events.received_at') }} as received_at,
        cast(raw_events.user_id as {{ dbt.type_string() }}) as user_id,
        lower(cast(raw_events.surface as {{ dbt.type_string() }})) as surface,
        lower(cast(raw_events.event_type as {{ dbt.type_string() }})) as event_type,
        cast(raw_events.request_id as {{ dbt.type_string() }}) as request_id,
        cast(raw_events.output_id as {{ dbt.type_string() }}) as output_id,
        cast(raw_events.model_version as {{ dbt.type_string() }}) as model_version,
        cast(raw_events.properties as {{ dbt.type_string() }}) as properties,
        cast(raw_events.occurred_at as {{ dbt.type_string() }}) as raw_occurred_at,
        cast(raw_events.received_at as {{ dbt.type_string() }}) as raw_received_at
    from raw_events
),

with_lookups as (
    select
        typed.*,
        event_types.is_output_event,
        surfaces.surface is not null as is_known_surface,
        {{ flywheel.is_json_object('typed.properties') }} as is_properties_object
    from typed
    left join event_types
        on typed.event_type = event_types.event_type
    left join surfaces
        on typed.surface = surfaces.surface
),

with_properties as (
    select
        *,
        case when is_properties_object then {{ flywheel.json_get('properties', 'text') }} end
            as property_text,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'n_chars'), api.Column.translate_type('integer'))
        }} end as property_n_chars,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'n_results'), api.Column.translate_type('integer'))
        }} end as property_n_results,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'share_rewritten'), 'double')
        }} end as property_share_rewritten,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'position'), api.Column.translate_type('integer'))
        }} end as property_position,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'dwell_seconds'), 'double')
        }} end as property_dwell_seconds,
        case when is_properties_object then {{
            dbt.safe_cast(flywheel.json_get('properties', 'rating'), api.Column.translate_type('integer'))
        }} end as property_rating
    from with_lookups
),

validated as (
    select
        *,
        case
            when event_id is null or trim(event_id) = '' then 'missing_event_id'
            when user_id is null or trim(user_id) = '' then 'missing_user_id'
            when occurred_at is null then 'unparseable_occurred_at'
            when received_at is null then 'unparseable_received_at'
            when is_output_event is null then 'unknown_event_type'
            when not is_known_surface then 'unknown_surface'
            when request_id is null or trim(request_id) = '' then 'missing_request_id'
            when is_output_event and (output_id is null or trim(output_id) = '') then 'missing_output_id'
            when
                {{ flywheel.seconds_between('received_at', 'occurred_at') }}
                > {{ var('flywheel__max_clock_skew_hours') }} * 3600 then 'occurred_in_future'
            when properties is null or not coalesce(is_properties_object, false) then 'invalid_properties'
            when event_type = 'feedback' and coalesce(property_rating, 0) not in (-1, 1)
                then 'invalid_rating'
            when event_type = 'edit'
                and (property_share_rewritten is null or property_share_rewritten < 0 or property_share_rewritten > 1)
                then 'invalid_share_rewritten'
            when event_type = 'click' and (property_position is null or property_position < 1)
                then 'invalid_click_position'
        end as rejection_reason
    from with_properties
),

ranked as (
    select
        *,
        case
            when rejection_reason is null
                then row_number() over (
                    partition by event_id, rejection_reason is null
                    order by received_at, occurred_at
                )
        end as delivery_number
    from validated
),

final as (
    select
        *,
        coalesce(delivery_number > 1, false) as is_duplicate
    from ranked
)

select * from final
