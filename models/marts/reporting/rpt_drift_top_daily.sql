{#-
    The daily rows of drift_daily for the metrics the report draws (rpt_drift_top.is_drawn):
    the day's rate, its trailing baseline, z and flag, on days with at least
    `flywheel__report_min_daily_outputs` outputs.
-#}
{%- set min_outputs = var('flywheel__report_min_daily_outputs') | int -%}

with

drift as (
    select * from {{ ref('drift_daily') }}
),

drift_top as (
    select * from {{ ref('rpt_drift_top') }}
),

drawn_metrics as (
    select
        label_task,
        metric_kind,
        metric_name,
        drift_rank
    from drift_top
    where is_drawn
),

final as (
    select
        drift.label_task,
        drift.metric_kind,
        drift.metric_name,
        drawn_metrics.drift_rank,
        drift.shown_date,
        drift.n_outputs,
        drift.rate,
        drift.baseline_rate,
        drift.z_score,
        drift.is_flagged
    from drift
    inner join drawn_metrics
        on drift.label_task = drawn_metrics.label_task
        and drift.metric_kind = drawn_metrics.metric_kind
        and drift.metric_name = drawn_metrics.metric_name
    where drift.n_outputs >= {{ min_outputs }}
)

select * from final
