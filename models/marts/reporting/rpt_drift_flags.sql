{#-
    The flagged rows of drift_daily (a day's rate far from its trailing baseline), ranked by
    |z|, largest first (ties by task, metric and day): the report's drift table.
-#}
with

drift as (
    select * from {{ ref('drift_daily') }}
),

flagged as (
    select
        label_task,
        shown_date,
        metric_kind,
        metric_name,
        n_outputs,
        rate,
        baseline_rate,
        rate_change,
        z_score
    from drift
    where is_flagged
),

final as (
    select
        row_number() over (
            order by abs(z_score) desc, label_task, metric_name, shown_date, metric_kind
        ) as flag_rank,
        *
    from flagged
)

select * from final
