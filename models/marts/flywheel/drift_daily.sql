{#-
    Drift of every labeling function and every boolean signal: per label task and day, the
    day's rate (share of the task's outputs where the LF voted / the signal fired) against a
    trailing baseline (the pooled rate of the previous flywheel__drift_baseline_days days).
    A day is flagged when the change is both large (|rate - baseline| >=
    flywheel__drift_min_change) and unlikely under the baseline (|z| >=
    flywheel__drift_z_threshold, z from the binomial standard error of the day's rate).
-#}
{#- code retention is watched at the longest window of flywheel__retention_windows_seconds -#}
{%- set retained = 'is_retained_' ~ flywheel.window_label(var('flywheel__retention_windows_seconds') | max) -%}
{%- set signal_names = ['is_accepted', 'is_rejected', 'is_ignored', retained,
    'is_rerequested', 'is_rephrased', 'is_copied', 'is_clicked', 'is_long_click',
    'is_session_abandoned', 'is_topic_repeated', 'has_explicit_rating'] -%}
{%- set baseline_days = var('flywheel__drift_baseline_days') -%}

with

votes_long as (
    select * from {{ ref('int_lf_votes_long') }}
),

signals as (
    select * from {{ ref('fct_output_signals') }}
),

daily_counts as (
    select
        label_task,
        shown_date,
        'labeling_function' as metric_kind,
        lf_name as metric_name,
        count(*) as n_outputs,
        count(case when vote != -1 then 1 end) as n_hits
    from votes_long
    group by label_task, shown_date, lf_name
    union all
    {%- for signal in signal_names %}
        select
            label_task,
            shown_date,
            'signal' as metric_kind,
            '{{ signal }}' as metric_name,
            count({{ signal }}) as n_outputs,
            count(case when {{ signal }} then 1 end) as n_hits
        from signals
        group by label_task, shown_date
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

with_baseline as (
    select
        *,
        sum(n_hits) over baseline_window as baseline_hits,
        sum(n_outputs) over baseline_window as baseline_outputs,
        count(*) over baseline_window as baseline_days
    from daily_counts
    window baseline_window as (
        partition by label_task, metric_kind, metric_name
        order by shown_date
        rows between {{ baseline_days }} preceding and 1 preceding
    )
),

scored as (
    select
        label_task,
        shown_date,
        metric_kind,
        metric_name,
        n_outputs,
        n_hits,
        cast(n_hits as {{ flywheel.type_double() }}) / nullif(n_outputs, 0) as rate,
        baseline_days,
        cast(baseline_hits as {{ flywheel.type_double() }}) / nullif(baseline_outputs, 0) as baseline_rate
    from with_baseline
),

flagged as (
    select
        *,
        rate - baseline_rate as rate_change,
        (rate - baseline_rate) / nullif(sqrt(baseline_rate * (1 - baseline_rate) / nullif(n_outputs, 0)), 0) as z_score
    from scored
),

final as (
    select
        *,
        coalesce(
            baseline_days >= {{ var('flywheel__drift_min_baseline_days') }}
            and abs(rate_change) >= {{ var('flywheel__drift_min_change') }}
            and abs(z_score) >= {{ var('flywheel__drift_z_threshold') }},
            false
        ) as is_flagged
    from flagged
)

select * from final
