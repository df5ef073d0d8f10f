{#-
    Every raw row (base_events__parsed), with the first rule it breaks (`rejection_reason`,
    null when valid) and whether it repeats an earlier valid row's event_id (`is_duplicate`).
    stg_events and stg_events_rejected are filters of this one model, so raw = valid +
    duplicates + rejected holds by construction, and tests/assert_raw_events_reconcile.sql
    checks it.

    On top of the rules a row breaks by itself (`row_rejection_reason`, base_events__parsed),
    the two that need the whole history:
    - the first delivery of an event_id is kept, by arrival, then client time, then the row's
      hash (a total order: identical builds keep the identical row); later valid deliveries
      are duplicates;
    - events about an output count only from the user it was first delivered to; events of a
      request only from the user who sent it (its first request event; lacking one, its first
      delivered event). So every event downstream belongs to one user's history: the unit
      incremental builds recompute.

    Both are decided on narrow columns: the wide rows pass through once, joined to the owner
    of their output and request. Each read of the parsed rows is a subquery of its own
    (`batch_rows` below), not a shared CTE, which the database would hold whole (as wide as
    the raw rows: it spilled tens of GB at 50M events).

    Incremental (the default; `dbt build --full-refresh` rebuilds): a build judges the rows of
    the loading window (flywheel.is_before_cutoff). A row counts as a duplicate of deliveries
    loaded in earlier builds, and an output first shown (a request first sent) in this batch
    judges the earlier events about it again. Only rows that are new or judged differently are
    written (`row_key`: the row's hash, numbered among identical copies), stamped with the
    build's `_loaded_at`: what the per-user models downstream recompute from.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='row_key',
    on_schema_change='fail',
) }}
{%- set incremental = is_incremental() -%}
{#- other settings than the stored rows': every row is judged and written again -#}
{%- set settings_changed = flywheel.settings_changed() -%}
{#- the parsed rows, less base_events__parsed's own bookkeeping columns -#}
{%- set parsed_columns = flywheel.star_except('parsed_rows', ['_loaded_at', '_settings_hash']) -%}
{#- the rows this build judges: every parsed row, or in an incremental build those of the
    loading window -#}
{%- set batch -%}
    (
        select {{ parsed_columns }}
        from {{ ref('base_events__parsed') }} as parsed_rows
        where {{ 'not ' ~ flywheel.is_before_cutoff('parsed_rows', this) if incremental else 'true' }}
    )
{%- endset -%}
{#- the stored rows this build does not judge again, in an incremental build -#}
{%- set earlier -%}
    (
        select stored_rows.*
        from {{ this }} as stored_rows
        where {{ flywheel.is_before_cutoff('stored_rows', this) }}
    )
{%- endset -%}
{#- rows of the batch whose event_id arrived once: their valid rows are first deliveries -#}
{%- set single_deliveries -%}
    {{ batch }} as batch_rows
    where batch_rows.event_id is not null
        and not exists (
            select 1 from repeated_event_ids
            where repeated_event_ids.event_id = batch_rows.event_id
        )
{%- endset -%}
{#- the columns that decide who an output or a request belongs to -#}
{%- set owner_columns = 'output_id, request_id, user_id, event_type, received_at, occurred_at, row_hash' -%}
{%- if incremental -%}
    {%- set judged_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- if column.name not in ['rejection_reason', 'is_duplicate', '_loaded_at', '_settings_hash'] -%}
            {%- do judged_columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- earlier events about an output first shown, or of a request first sent, in this batch:
        judged again (they may turn out to be another user's) -#}
    {%- set is_reowned -%}
        (
            (stored_rows.is_output_event and stored_rows.output_id in (select output_id from newly_shown_outputs))
            or stored_rows.request_id in (select request_id from newly_sent_requests)
        )
    {%- endset -%}
{%- endif -%}
{#- the first deliveries of the batch -#}
{%- set batch_first_deliveries -%}
    (
        select {{ owner_columns }}
        from {{ single_deliveries }}
            and batch_rows.row_rejection_reason is null
        union all
        select {{ owner_columns }}
        from repeated_deliveries
        where delivery_number = 1
    )
{%- endset -%}
{#- the first deliveries that decide the owners: the batch's, and in an incremental build the
    earlier ones of the outputs and requests judged -#}
{%- set first_deliveries -%}
    (
        select {{ owner_columns }}
        from {{ batch_first_deliveries }} as batch_first
        {% if incremental -%}
        union all
        select {{ owner_columns }}
        from {{ earlier }} as earlier
        where delivery_number = 1
            and (
                output_id in (select output_id from judged_ids)
                or request_id in (select request_id from judged_ids)
            )
        {% endif -%}
    )
{%- endset %}

with

{% if incremental -%}
batch_event_ids as (
    select event_id, count(*) as n_rows
    from {{ batch }} as batch_rows
    where event_id is not null
    group by event_id
),

earlier_deliveries as (
    -- valid deliveries of the batch's event_ids loaded before: they came first
    select earlier.event_id, count(*) as n_earlier_deliveries
    from {{ earlier }} as earlier
    inner join batch_event_ids
        on earlier.event_id = batch_event_ids.event_id
    where earlier.row_rejection_reason is null
    group by earlier.event_id
),

repeated_event_ids as (
    -- event_ids that arrive more than once (valid or not), counting earlier builds' deliveries
    select
        batch_event_ids.event_id,
        coalesce(earlier_deliveries.n_earlier_deliveries, 0) as n_earlier_deliveries
    from batch_event_ids
    left join earlier_deliveries
        on batch_event_ids.event_id = earlier_deliveries.event_id
    where batch_event_ids.n_rows > 1 or earlier_deliveries.event_id is not null
),

{% else -%}
    repeated_event_ids as (
    -- event_ids that arrive more than once (valid or not): only their rows need ranking
        select
            event_id,
            0 as n_earlier_deliveries
        from {{ batch }} as batch_rows
        where event_id is not null
        group by event_id
        having count(*) > 1
    ),

{% endif -%}
repeated_deliveries as (
    -- the rows of repeated event_ids and those without one (few), ranked. row_key: the row's
    -- hash, numbered from the second identical copy on (identical copies share their
    -- received_at, so they always load together)
    select
        batch_rows.*,
        case
            when batch_rows.row_rejection_reason is null
                then coalesce(repeated_event_ids.n_earlier_deliveries, 0) + row_number() over (
                    partition by batch_rows.event_id, batch_rows.row_rejection_reason is null
                    order by batch_rows.received_at, batch_rows.occurred_at, batch_rows.row_hash
                )
        end as delivery_number,
        case
            when row_number() over (partition by batch_rows.row_hash order by batch_rows.row_hash) > 1
                then batch_rows.row_hash || '#' || cast(
                    row_number() over (partition by batch_rows.row_hash order by batch_rows.row_hash)
                    as {{ dbt.type_string() }}
                )
            else batch_rows.row_hash
        end as row_key
    from {{ batch }} as batch_rows
    left join repeated_event_ids
        on batch_rows.event_id = repeated_event_ids.event_id
    where batch_rows.event_id is null or repeated_event_ids.event_id is not null
),

ranked as (
    -- a valid row whose event_id arrived once is its first delivery
    select
        batch_rows.*,
        case when batch_rows.row_rejection_reason is null then 1 end as delivery_number,
        batch_rows.row_hash as row_key
    from {{ single_deliveries }}
    union all
    select * from repeated_deliveries
),

{% if incremental -%}
newly_shown_outputs as (
    -- outputs first shown in this batch
    select batch_first.output_id
    from {{ batch_first_deliveries }} as batch_first
    where batch_first.event_type = 'output_shown'
    except
    select stored_rows.output_id
    from {{ this }} as stored_rows
    where stored_rows.delivery_number = 1 and stored_rows.event_type = 'output_shown'
        and {{ flywheel.is_before_cutoff('stored_rows', this) }}
),

newly_sent_requests as (
    -- requests first sent in this batch
    select batch_first.request_id
    from {{ batch_first_deliveries }} as batch_first
    where batch_first.event_type = 'request'
    except
    select stored_rows.request_id
    from {{ this }} as stored_rows
    where stored_rows.delivery_number = 1 and stored_rows.event_type = 'request'
        and {{ flywheel.is_before_cutoff('stored_rows', this) }}
),

reowned as (
    select {{ judged_columns | join(', ') }}
    from {{ earlier }} as stored_rows
    where {{ is_reowned }}
),

judged_ids as (
    -- the outputs and requests of the rows judged in this build
    select output_id, request_id from {{ batch }} as batch_rows
    union all
    select output_id, request_id from {{ earlier }} as stored_rows
    where {{ is_reowned }}
),

candidates as (
    select {{ judged_columns | join(', ') }} from ranked
    union all
    select {{ judged_columns | join(', ') }} from reowned
),

{% else -%}
    candidates as (
        select * from ranked
    ),

{% endif -%}
owners as (
    -- each output belongs to the user it was first delivered to (its first output_shown)
    select
        output_id,
        {{ flywheel.first_by('user_id', ['received_at', 'occurred_at', 'row_hash']) }} as owner_user_id
    from {{ first_deliveries }} as first_deliveries
    where event_type = 'output_shown'
    group by output_id
),

requesters as (
    -- each request belongs to the user who sent it (its first request event; without one, the
    -- user of its first delivered event)
    select
        request_id,
        {{ flywheel.first_by('user_id', [
            "case when event_type = 'request' then 0 else 1 end", 'received_at', 'occurred_at', 'row_hash',
        ]) }} as requester_user_id
    from {{ first_deliveries }} as first_deliveries
    group by request_id
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
    left join requesters
        on candidates.request_id = requesters.request_id
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
