{#-
    Every raw row, typed, with the first rule it breaks (`rejection_reason`, null when valid) and
    whether it repeats an earlier valid row's event_id (`is_duplicate`). stg_events and
    stg_events_rejected are filters of this one model, so raw = valid + duplicates + rejected
    holds by construction, and tests/assert_raw_events_reconcile.sql checks it.

    Nothing here can fail on a value: every conversion is a try_cast, so a bad value is a
    rejection reason, never a failed build. Ties are broken by a hash of the whole raw row, so
    the same events give the same result on every build. Events about an output count only
    from the user it was first delivered to; events of a request only from the user who sent
    it (its first request event; lacking one, its first delivered event). So every event
    downstream belongs to one user's history: the unit incremental builds recompute.

    Incremental (the default; `dbt build --full-refresh` rebuilds): a build reads the raw rows
    received since the latest valid received_at already loaded, less
    flywheel__late_arrival_lookback_hours, and every row whose received_at is missing or out of
    range (judged again each build, so a broken or far-future time never moves the mark). A
    row counts as a duplicate of deliveries loaded in earlier builds, and an output first shown
    (a request first sent) in this batch judges the earlier events about it again. Only rows
    that are new or judged differently are written (`row_key`: the row's hash, numbered among
    identical copies), stamped with the build's `_loaded_at`: what the per-user models
    downstream recompute from.
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
{#- flywheel.clean_text of a raw column, with a fast path: a text that starts and ends with
    printable ASCII that is no space has nothing to trim (the trimming regex was ~15% of the
    build); the same value either way -#}
{%- set trimmed = {} -%}
{%- for column in ['raw_events.event_id', 'raw_events.user_id', 'raw_events.surface', 'raw_events.event_type',
                   'raw_events.request_id', 'raw_events.output_id', 'raw_events.model_version', 'raw_ids.event_id'] -%}
    {%- set text = 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    {%- do trimmed.update({column: 'case when ord(' ~ text ~ ') between 33 and 126 and ord(right('
        ~ text ~ ', 1)) between 33 and 126 then ' ~ text ~ ' else '
        ~ flywheel.clean_text(column) ~ ' end'}) -%}
{%- endfor -%}
{%- set max_integer = 2147483647 -%}
{%- set build_time = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)" -%}
-- depends_on: {{ source('flywheel', 'raw_events') }}
{#- stored: the raw file is parsed (JSON, times, trimming) once per load, and the staging
    views and their tests read stored rows; pseudonymized ids are computed in the build too
    (the salt lives only in dbt's session), so the views downstream read stored hashes -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='row_key',
    on_schema_change='fail',
) }}
{%- set incremental = is_incremental() -%}
{#- other settings than the stored rows': every raw row is read and written again -#}
{%- set settings_changed = flywheel.settings_changed() -%}
{#- a stored row whose received_at is a valid time before the cutoff: the batch does not re-read it -#}
{%- set is_before_cutoff -%}
    coalesce(
        {{ flywheel.is_finite_timestamp('{relation}.received_at') }}
        and {relation}.received_at >= cast('{{ var("flywheel__earliest_event_time") }}' as timestamp)
        and {relation}.received_at < cutoff.loaded_from,
        false
    )
{%- endset -%}
{%- if incremental -%}
    {%- set ranked_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- if column.name not in ['rejection_reason', 'is_duplicate', '_loaded_at', '_settings_hash'] -%}
            {%- do ranked_columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with

raw_events as (
    select * from {{ flywheel.raw_events() }} as raw_events
),

{% if not incremental -%}
    repeated_event_ids as (
    -- event_ids that arrive more than once (valid or not): only their rows need ranking; read
    -- in a scan of their own, one column, so the wide rows are not kept for it
        select
            {{ trimmed['raw_ids.event_id'] }} as event_id,
            0 as n_earlier_deliveries
        from {{ flywheel.raw_events() }} as raw_ids
        where {{ trimmed['raw_ids.event_id'] }} is not null
        group by {{ trimmed['raw_ids.event_id'] }}
        having count(*) > 1
    ),

{% endif -%}
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

{% if incremental -%}
cutoff as (
    -- the latest valid arrival already loaded, less the lookback for rows that land late
    select {{ dbt.dateadd('hour', -1 * var('flywheel__late_arrival_lookback_hours'), 'max(received_at)') }}
        as loaded_from
    from {{ this }}
    where row_rejection_reason is null{{ ' and false' if settings_changed }}
),

earlier as (
    -- the stored rows this batch does not re-read
    select stored.*
    from {{ this }} as stored
    cross join cutoff
    where {{ is_before_cutoff | replace('{relation}', 'stored') }}
),

typed as (
    select parsed.*
    from parsed
    cross join cutoff
    where not {{ is_before_cutoff | replace('{relation}', 'parsed') }}
),

batch_event_ids as (
    select event_id, count(*) as n_rows
    from typed
    where event_id is not null
    group by event_id
),

earlier_deliveries as (
    -- valid deliveries of the batch's event_ids loaded before: they came first
    select earlier.event_id, count(*) as n_earlier_deliveries
    from earlier
    inner join batch_event_ids
        on earlier.event_id = batch_event_ids.event_id
    where earlier.row_rejection_reason is null
    group by earlier.event_id
),

repeated_event_ids as (
    select
        batch_event_ids.event_id,
        coalesce(earlier_deliveries.n_earlier_deliveries, 0) as n_earlier_deliveries
    from batch_event_ids
    left join earlier_deliveries
        on batch_event_ids.event_id = earlier_deliveries.event_id
    where batch_event_ids.n_rows > 1 or earlier_deliveries.event_id is not null
),

{% else -%}
    typed as (
        select * from parsed
    ),

{% endif -%}

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

ranked as (
    -- the first delivery of an event_id is kept: by arrival, then client time, then the row's
    -- hash (a total order: identical builds keep the identical row). A valid row whose
    -- event_id arrived once is its first delivery; only the few repeated ids (and rows without
    -- one) are ranked (a window over every wide row was the slowest step of the build).
    -- row_key: the row's hash, numbered from the second identical copy on (identical copies
    -- share their received_at, so they always load together)
    select
        validated.*,
        case when validated.row_rejection_reason is null then 1 end as delivery_number,
        validated.row_hash as row_key
    from validated
    where validated.event_id is not null
        and not exists (
            select 1 from repeated_event_ids
            where repeated_event_ids.event_id = validated.event_id
        )
    union all
    select
        validated.*,
        case
            when validated.row_rejection_reason is null
                then coalesce(repeated_event_ids.n_earlier_deliveries, 0) + row_number() over (
                    partition by validated.event_id, validated.row_rejection_reason is null
                    order by validated.received_at, validated.occurred_at, validated.row_hash
                )
        end as delivery_number,
        case
            when row_number() over (partition by validated.row_hash order by validated.row_hash) > 1
                then validated.row_hash || '#' || cast(
                    row_number() over (partition by validated.row_hash order by validated.row_hash)
                    as {{ dbt.type_string() }}
                )
            else validated.row_hash
        end as row_key
    from validated
    left join repeated_event_ids
        on validated.event_id = repeated_event_ids.event_id
    where validated.event_id is null or repeated_event_ids.event_id is not null
),

{% if incremental -%}
earlier_owned_outputs as (
    select distinct earlier.output_id
    from earlier
    where earlier.delivery_number = 1 and earlier.event_type = 'output_shown'
        and earlier.output_id in (select output_id from ranked)
),

earlier_sent_requests as (
    select distinct earlier.request_id
    from earlier
    where earlier.delivery_number = 1 and earlier.event_type = 'request'
        and earlier.request_id in (select request_id from ranked)
),

reowned as (
    -- earlier events about an output first shown, or of a request first sent, in this batch:
    -- judged again (they may turn out to be another user's)
    select earlier.*
    from earlier
    where (
            earlier.is_output_event
            and earlier.output_id in (
                select output_id from ranked where delivery_number = 1 and event_type = 'output_shown'
            )
            and earlier.output_id not in (select output_id from earlier_owned_outputs)
        )
        or (
            earlier.request_id in (
                select request_id from ranked where delivery_number = 1 and event_type = 'request'
            )
            and earlier.request_id not in (select request_id from earlier_sent_requests)
        )
),

candidates as (
    select {{ ranked_columns | join(', ') }} from ranked
    union all
    select {{ ranked_columns | join(', ') }} from reowned
),

{% else -%}
    candidates as (
        select * from ranked
    ),

{% endif -%}
first_deliveries as (
    -- the first deliveries that decide who an output or a request belongs to
    select
        output_id,
        request_id,
        user_id,
        event_type,
        received_at,
        occurred_at,
        row_hash
    from candidates
    where delivery_number = 1
    {%- if incremental %}
    union all
    select output_id, request_id, user_id, event_type, received_at, occurred_at, row_hash
    from earlier
    where delivery_number = 1
        and (
            output_id in (select output_id from candidates)
            or request_id in (select request_id from candidates)
        )
    {%- endif %}
),

owners as (
    -- each output belongs to the user it was first delivered to (its first output_shown)
    select
        output_id,
        user_id as owner_user_id,
        row_number() over (partition by output_id order by received_at, occurred_at, row_hash)
            as owner_rank
    from first_deliveries
    where event_type = 'output_shown'
),

requesters as (
    -- each request belongs to the user who sent it (its first request event; without one, the
    -- user of its first delivered event)
    select
        request_id,
        user_id as requester_user_id,
        row_number() over (
            partition by request_id
            order by case when event_type = 'request' then 0 else 1 end, received_at, occurred_at, row_hash
        ) as requester_rank
    from first_deliveries
),

owned as (
    select
        candidates.*,
        case
            when candidates.row_rejection_reason is not null then candidates.row_rejection_reason
            when
                candidates.is_output_event
                and owners.owner_user_id is not null
                and candidates.user_id != owners.owner_user_id
                then 'output_of_another_user'
            when candidates.user_id != requesters.requester_user_id then 'request_of_another_user'
        end as rejection_reason
    from candidates
    left join owners
        on candidates.output_id = owners.output_id
        and owners.owner_rank = 1
    left join requesters
        on candidates.request_id = requesters.request_id
        and requesters.requester_rank = 1
),

final as (
    select
        owned.*,
        owned.rejection_reason is null and coalesce(owned.delivery_number > 1, false) as is_duplicate,
        {{ flywheel.build_stamp() }}
    from owned
    {%- if incremental and not settings_changed %}
    -- only what is new or judged differently is written
    left join {{ this }} as stored
        on owned.row_key = stored.row_key
    where stored.row_key is null
        or stored.rejection_reason is distinct from owned.rejection_reason
        or stored.delivery_number is distinct from owned.delivery_number
    {%- endif %}
)

select * from final
