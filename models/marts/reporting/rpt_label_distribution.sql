{#-
    Histogram of the label model's P(good) per label task: `flywheel__report_histogram_bins`
    equal bins of [0, 1] (P(good) = 1 falls in the last), split into covered outputs (an LF
    voted) and uncovered ones (every LF abstained: they all get the class prior). Shares are of
    the task's outputs with a P(good). Only bins with outputs have a row.
-#}
{%- set n_bins = var('flywheel__report_histogram_bins') | int -%}

with

labels as (
    select * from {{ ref('probabilistic_labels') }}
),

binned as (
    select
        label_task,
        is_covered,
        {{ flywheel.probability_bin('p_good', n_bins) }} as p_good_bin
    from labels
    where p_good is not null
),

per_bin as (
    select
        label_task,
        p_good_bin,
        count(*) as n_outputs,
        sum(case when is_covered then 1 else 0 end) as n_covered,
        sum(case when is_covered then 0 else 1 end) as n_uncovered
    from binned
    group by label_task, p_good_bin
),

task_totals as (
    select
        label_task,
        sum(n_outputs) as n_task_outputs
    from per_bin
    group by label_task
),

final as (
    select
        per_bin.label_task,
        per_bin.p_good_bin,
        cast(per_bin.p_good_bin as {{ flywheel.type_double() }}) / {{ n_bins }} as bin_lower,
        cast((per_bin.p_good_bin + 1) as {{ flywheel.type_double() }}) / {{ n_bins }} as bin_upper,
        per_bin.n_outputs,
        per_bin.n_covered,
        per_bin.n_uncovered,
        task_totals.n_task_outputs,
        cast(per_bin.n_covered as {{ flywheel.type_double() }}) / task_totals.n_task_outputs as share_covered,
        cast(per_bin.n_uncovered as {{ flywheel.type_double() }}) / task_totals.n_task_outputs as share_uncovered
    from per_bin
    inner join task_totals
        on per_bin.label_task = task_totals.label_task
)

select * from final
