{#-
    Per label task and drift_daily metric, how far it moved: over the days with a z-score and
    at least `flywheel__report_min_daily_outputs` outputs, the largest |z| and the flagged days.
    Ranked overall (flagged metrics first, then by largest |z|) and within the task; the first
    `flywheel__report_drift_top_metrics` overall are the ones the report draws.
-#}
{%- set min_outputs = var('flywheel__report_min_daily_outputs') | int -%}
{%- set top_metrics = var('flywheel__report_drift_top_metrics') | int -%}

with

drift as (
    select * from {{ ref('drift_daily') }}
),

judged_days as (
    select
        label_task,
        metric_kind,
        metric_name,
        z_score,
        is_flagged
    from drift
    where z_score is not null
        and n_outputs >= {{ min_outputs }}
),

per_metric as (
    select
        label_task,
        metric_kind,
        metric_name,
        count(*) as n_days,
        max(abs(z_score)) as max_abs_z,
        sum(case when is_flagged then 1 else 0 end) as n_flagged_days
    from judged_days
    group by label_task, metric_kind, metric_name
),

ranked as (
    select
        *,
        row_number() over (
            order by
                case when n_flagged_days > 0 then 0 else 1 end,
                max_abs_z desc,
                label_task,
                metric_name,
                metric_kind
        ) as drift_rank,
        row_number() over (
            partition by label_task
            order by
                case when n_flagged_days > 0 then 0 else 1 end,
                max_abs_z desc,
                metric_name,
                metric_kind
        ) as task_drift_rank
    from per_metric
),

final as (
    select
        label_task,
        metric_kind,
        metric_name,
        n_days,
        max_abs_z,
        n_flagged_days,
        n_flagged_days > 0 as is_flagged,
        drift_rank,
        task_drift_rank,
        drift_rank <= {{ top_metrics }} as is_drawn
    from ranked
)

select * from final
