{#-
    The health of the event stream in one small table: how many raw rows were read, how many
    are valid, duplicate deliveries or rejected (and why), and how many valid events lack a
    property the signals need (clicks without dwell, requests and outputs without text). The
    test assert_event_stream_is_healthy stops the build when a share passes its var, and
    `flywheel run` prints it as one line.
-#}
{%- set needed_properties = [
    ('click', 'dwell_seconds'), ('request', 'text'), ('output_shown', 'text'),
] -%}

with

validated_events as (
    select * from {{ ref('base_events__validated') }}
),

valid_events as (
    select * from {{ ref('stg_events') }}
),

totals as (
    select
        count(*) as n_raw,
        count(case when rejection_reason is null and not is_duplicate then 1 end) as n_valid,
        count(case when is_duplicate then 1 end) as n_duplicates,
        count(rejection_reason) as n_rejected
    from validated_events
),

reasons as (
    select
        rejection_reason,
        count(*) as n_rows
    from validated_events
    where rejection_reason is not null
    group by rejection_reason
),

missing as (
    {%- for event_type, property in needed_properties %}
        select
            '{{ event_type }}.{{ property }}' as metric_name,
            count(case when {{ property }} is null then 1 end) as n_rows,
            count(*) as n_of
        from valid_events
        where event_type = '{{ event_type }}'
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

metrics as (
    {%- for name in ['raw_rows', 'valid', 'duplicates', 'rejected'] %}
        select
            'total' as metric_kind,
            '{{ name }}' as metric_name,
            n_{{ {'raw_rows': 'raw', 'valid': 'valid', 'duplicates': 'duplicates', 'rejected': 'rejected'}[name] }}
                as n_rows,
            n_raw as n_of
        from totals
        union all
    {%- endfor %}
    select
        'rejection_reason' as metric_kind,
        reasons.rejection_reason as metric_name,
        reasons.n_rows,
        totals.n_raw as n_of
    from reasons
    cross join totals
    union all
    select
        'missing_property' as metric_kind,
        metric_name,
        n_rows,
        n_of
    from missing
),

final as (
    select
        metric_kind,
        metric_name,
        n_rows,
        n_of,
        cast(n_rows as {{ flywheel.type_double() }}) / nullif(n_of, 0) as row_share
    from metrics
)

select * from final
