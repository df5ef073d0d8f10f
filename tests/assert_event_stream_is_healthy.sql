{#-
    A broken stream fails loudly (severity error), naming what is wrong: the share of rejected
    raw rows above flywheel__max_rejected_share (with the most common reason), or the share of
    valid events of a type that lack a property the signals need above
    flywheel__max_missing_property_share (naming the event type and the property). Rows stay
    in stg_events_rejected and stg_events_quality for inspection. Returns no row when healthy.
-#}
{%- set quality = ref('stg_events_quality') -%}
{%- if execute -%}
    {%- set rows = run_query(
        "select metric_kind, metric_name, n_rows, n_of, row_share from " ~ quality
        ~ " where metric_kind != 'total' or metric_name = 'rejected' order by n_rows desc, metric_name"
    ).rows -%}
    {%- set problems = [] -%}
    {%- set top = namespace(reason=none) -%}
    {%- for kind, name, n_rows, n_of, share in rows -%}
        {%- if kind == 'rejection_reason' and top.reason is none -%}
            {%- set top.reason = name ~ ' (' ~ n_rows ~ ' rows)' -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for kind, name, n_rows, n_of, share in rows -%}
        {%- if kind == 'total' and share is not none and share > var('flywheel__max_rejected_share') -%}
            {%- do problems.append(
                '%.1f%% of the %d raw rows are rejected (flywheel__max_rejected_share is %s), most often %s: '
                | format(100 * share, n_of, var('flywheel__max_rejected_share'), top.reason)
                ~ 'see stg_events_rejected'
            ) -%}
        {%- elif kind == 'missing_property' and share is not none
            and share > var('flywheel__max_missing_property_share') -%}
            {%- do problems.append(
                '%.1f%% of the %d valid %s events have no %s (flywheel__max_missing_property_share is %s): '
                | format(100 * share, n_of, name.split('.')[0], name.split('.')[1],
                         var('flywheel__max_missing_property_share'))
                ~ 'the signals and LFs that read it abstain'
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error('the event stream is broken: ' ~ problems | join('; ')) }}
    {%- endif -%}
{%- endif %}

select * from {{ quality }}
where 1 = 0
