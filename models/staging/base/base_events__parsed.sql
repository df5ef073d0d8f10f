{#-
    Every raw row, typed, with the first rule of the event contract it breaks on its own
    (`row_rejection_reason`, null when the row is valid by itself) and a hash of the whole raw
    row (`row_hash`). One row in, one row out, nothing that needs another row: the raw file is
    parsed (JSON, times, trimming) in a single streaming pass, and base_events__validated judges
    what needs the whole history (duplicates, who owns an output or a request) on narrow
    columns of this table.

    Nothing here can fail on a value: every conversion is a try_cast, so a bad value is a
    rejection reason, never a failed build.

    Incremental (the default; `dbt build --full-refresh` rebuilds): a build reads the raw rows
    received since the latest valid received_at already loaded, less
    flywheel__late_arrival_lookback_hours, and every row whose received_at is missing or out of
    range (flywheel.is_before_cutoff), and replaces the stored rows of that window with them
    (strategy flywheel_window).
-#}
{#- the numeric properties of each event type (README, the event contract); others are ignored -#}
{%- set properties_of = {
    'output_shown': ['n_chars', 'n_results'], 'accept': ['n_chars'], 'revert': ['n_chars'],
    'copy': ['n_chars'], 'edit': ['share_rewritten'], 'click': ['position', 'dwell_seconds'],
    'feedback': ['rating'],
} -%}
{%- set numeric_properties = ['n_chars', 'n_results', 'share_rewritten', 'position', 'dwell_seconds', 'rating'] -%}
{#- kept as they arrived, for the quarantine -#}
{%- set raw_columns = [
    'event_id', 'occurred_at', 'received_at', 'user_id', 'surface', 'event_type', 'request_id',
    'output_id', 'model_version',
] -%}
{%- set carried_by = {} -%}
{%- for name in numeric_properties -%}
    {%- set event_types = [] -%}
    {%- for event_type, names in properties_of.items() if name in names -%}
        {%- do event_types.append("'" ~ event_type ~ "'") -%}
    {%- endfor -%}
    {%- do carried_by.update({name: event_types | join(', ')}) -%}
{%- endfor -%}
{%- set trimmed = {} -%}
{%- for column in ['raw_events.event_id', 'raw_events.user_id', 'raw_events.surface', 'raw_events.event_type',
                   'raw_events.request_id', 'raw_events.output_id', 'raw_events.model_version'] -%}
    {%- do trimmed.update({column: flywheel.clean_text(column, fast_path=true)}) -%}
{%- endfor -%}
{%- set max_integer = 2147483647 -%}
{%- set build_time = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)" -%}
-- depends_on: {{ source('flywheel', 'raw_events') }}
{#- stored: the raw file is parsed (JSON, times, trimming) once per load; pseudonymized ids
    are computed in the build too (the salt lives only in dbt's session), so the views
    downstream read stored hashes -#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_window',
    on_schema_change='fail',
) }}

with

raw_events as (
    select * from {{ flywheel.raw_events() }} as raw_events
),

event_types as (
    select * from {{ ref('event_types') }}
),

surfaces as (
    select distinct surface from {{ ref('label_tasks') }}
),

parsed as (
    select
        {{ trimmed['raw_events.event_id'] }} as event_id,
        {{ flywheel.parse_utc_timestamp('raw_events.occurred_at') }} as occurred_at,
        {{ flywheel.parse_utc_timestamp('raw_events.received_at') }} as received_at,
        {{ flywheel.pseudonymize(trimmed['raw_events.user_id']) }} as user_id,
        lower({{ trimmed['raw_events.surface'] }}) as surface,
        lower({{ trimmed['raw_events.event_type'] }}) as event_type,
        {{ trimmed['raw_events.request_id'] }} as request_id,
        {{ trimmed['raw_events.output_id'] }} as output_id,
        {{ trimmed['raw_events.model_version'] }} as model_version,
        cast(raw_events.properties as {{ dbt.type_string() }}) as properties,
        {%- for name in raw_columns %}
            {%- set raw = 'cast(raw_events.' ~ name ~ ' as ' ~ dbt.type_string() ~ ')' %}
            {{ flywheel.pseudonymize(raw) if name == 'user_id' else raw }} as raw_{{ name }},
        {%- endfor %}
        raw_events.raw_line,
        raw_events.is_unreadable_line,
        {#- concat() builds the hashed text at once (a chain of || builds twenty strings): the
            same text, every part coalesced -#}
        
{{ dbt.hash('concat(' ~ [
            "coalesce(cast(raw_events.event_id as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.occurred_at as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.received_at as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.user_id as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.surface as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.event_type as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.request_id as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.output_id as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.model_version as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(raw_events.properties as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(raw_events.raw_line, '~')",
        ] | join(', ') ~ ')') }} as row_hash
    from raw_events
),

typed as (
    select parsed.*
    from parsed
    {%- if is_incremental() %}
    where not {{ flywheel.is_before_cutoff('parsed', this) }}
    {%- endif %}
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

with_property_text as (
    -- each numeric property of the event's type as the text it arrived as (null when absent or
    -- not a property of the type), and as a number when it is one
    select
        *,
        case when is_properties_object then {{ flywheel.json_get('properties', 'text') }} end
            as property_text,
    {%- for name in numeric_properties %}
        case
            when is_properties_object and event_type in ({{ carried_by[name] }})
                then {{ flywheel.json_get('properties', name) }}
        end as raw_property_{{ name }},
        {{ flywheel.try_cast(
            "case when is_properties_object and event_type in (" ~ carried_by[name] ~ ") then "
            ~ flywheel.json_get('properties', name) ~ " end",
            flywheel.type_double(),
        ) }} as number_{{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    from with_lookups
),

with_property_checks as (
    -- a property that is present must hold a value of its kind: a finite number in range, and
    -- a whole number where counts and positions are meant (1.5 is no position, "yes" no rating);
    -- a comparison with a value that is no number is null, which is invalid (coalesce)
    select
        *,
        raw_property_n_chars is null or coalesce(
            number_n_chars >= 0 and number_n_chars <= {{ max_integer }} and number_n_chars = floor(number_n_chars),
            false
        ) as is_valid_n_chars,
        raw_property_n_results is null or coalesce(
            number_n_results >= 0 and number_n_results <= {{ max_integer }}
            and number_n_results = floor(number_n_results),
            false
        ) as is_valid_n_results,
        raw_property_share_rewritten is null
        or coalesce(number_share_rewritten >= 0 and number_share_rewritten <= 1, false) as is_valid_share_rewritten,
        raw_property_position is null or coalesce(
            number_position >= 1 and number_position <= {{ max_integer }} and number_position = floor(number_position),
            false
        ) as is_valid_position,
        raw_property_dwell_seconds is null
        or coalesce(number_dwell_seconds >= 0 and number_dwell_seconds < 1e9, false) as is_valid_dwell_seconds,
        raw_property_rating is null or coalesce(number_rating in (-1, 1), false) as is_valid_rating
    from with_property_text
),

with_properties as (
    select
        *,
        case when is_valid_n_chars then {{ flywheel.try_cast('number_n_chars', dbt.type_int()) }} end
            as property_n_chars,
        case when is_valid_n_results then {{ flywheel.try_cast('number_n_results', dbt.type_int()) }} end
            as property_n_results,
        case when is_valid_share_rewritten then number_share_rewritten end as property_share_rewritten,
        case when is_valid_position then {{ flywheel.try_cast('number_position', dbt.type_int()) }} end
            as property_position,
        case when is_valid_dwell_seconds then number_dwell_seconds end as property_dwell_seconds,
        case when is_valid_rating then {{ flywheel.try_cast('number_rating', dbt.type_int()) }} end
            as property_rating
    from with_property_checks
),

validated as (
    select
        *,
        case
            when is_unreadable_line then 'unreadable_line'
            when event_id is null then 'missing_event_id'
            when user_id is null then 'missing_user_id'
            when occurred_at is null then 'unparseable_occurred_at'
            when received_at is null then 'unparseable_received_at'
            when
                not {{ flywheel.is_finite_timestamp('occurred_at') }}
                or occurred_at < cast('{{ var("flywheel__earliest_event_time") }}' as timestamp)
                then 'occurred_at_out_of_range'
            when
                not {{ flywheel.is_finite_timestamp('received_at') }}
                or received_at < cast('{{ var("flywheel__earliest_event_time") }}' as timestamp)
                then 'received_at_out_of_range'
            when
                {{ flywheel.seconds_between(build_time, 'received_at') }}
                > {{ var('flywheel__max_clock_skew_hours') }} * 3600 then 'received_in_future'
            when is_output_event is null then 'unknown_event_type'
            when not is_known_surface then 'unknown_surface'
            when request_id is null then 'missing_request_id'
            when is_output_event and output_id is null then 'missing_output_id'
            when
                {{ flywheel.seconds_between('received_at', 'occurred_at') }}
                > {{ var('flywheel__max_clock_skew_hours') }} * 3600 then 'occurred_in_future'
            when properties is null or not coalesce(is_properties_object, false) then 'invalid_properties'
            when not is_valid_rating or (event_type = 'feedback' and raw_property_rating is null)
                then 'invalid_rating'
            when not is_valid_share_rewritten or (event_type = 'edit' and raw_property_share_rewritten is null)
                then 'invalid_share_rewritten'
            when not is_valid_position or (event_type = 'click' and raw_property_position is null)
                then 'invalid_click_position'
            when not is_valid_n_chars then 'invalid_n_chars'
            when not is_valid_n_results then 'invalid_n_results'
            when not is_valid_dwell_seconds then 'invalid_dwell_seconds'
        end as row_rejection_reason
    from with_properties
),

final as (
    -- what base_events__validated and the staging views read (not the checks' steps)
    select
        event_id,
        occurred_at,
        received_at,
        user_id,
        surface,
        event_type,
        request_id,
        output_id,
        model_version,
        properties,
        {{ 'raw_' ~ raw_columns | join(', raw_') }},
        raw_line,
        is_unreadable_line,
        row_hash,
        is_output_event,
        property_text,
        {{ 'property_' ~ numeric_properties | join(', property_') }},
        row_rejection_reason,
        {{ flywheel.build_stamp() }}
    from validated
)

select * from final
