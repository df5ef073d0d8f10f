{#-
    Per label task and labeling function: lf_summary (coverage, overlaps, conflicts, accuracy
    against explicit ratings) beside the label model's learned accuracy from the task's latest
    label run (label_model_runs by fitted_at, then run_id). Before the label job has ever run
    its tables do not exist: the learned columns are then null.
-#}
{#- source() outside the condition: dbt records the dependency at parse time (execute false) -#}
{%- set runs_source = source('flywheel_labels', 'label_model_runs') -%}
{%- set weights_source = source('flywheel_labels', 'label_model_lf_weights') -%}
{%- set runs_relation = load_relation(runs_source) if execute else none -%}
{%- set weights_relation = load_relation(weights_source) if execute else none -%}
{%- set has_label_runs = runs_relation is not none and weights_relation is not none %}

with

lf_summary as (
    select * from {{ ref('lf_summary') }}
),

{% if has_label_runs -%}
label_runs as (
    select * from {{ runs_source }}
),

lf_weights as (
    select * from {{ weights_source }}
),

ranked_runs as (
    select
        label_task,
        run_id,
        fitted_at,
        row_number() over (
            partition by label_task
            order by fitted_at desc, run_id desc
        ) as run_recency
    from label_runs
),

latest_weights as (
    select
        lf_weights.label_task,
        lf_weights.lf_name,
        ranked_runs.run_id,
        ranked_runs.fitted_at,
        lf_weights.learned_accuracy
    from lf_weights
    inner join ranked_runs
        on lf_weights.label_task = ranked_runs.label_task
        and lf_weights.run_id = ranked_runs.run_id
    where ranked_runs.run_recency = 1
),
{%- else -%}
    latest_weights as (
        select
            cast(null as {{ dbt.type_string() }}) as label_task,
            cast(null as {{ dbt.type_string() }}) as lf_name,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_timestamp() }}) as fitted_at,
            cast(null as {{ dbt.type_float() }}) as learned_accuracy
        where 1 = 0
    ),
{%- endif %}

final as (
    select
        lf_summary.label_task,
        lf_summary.lf_name,
        lf_summary.lf_index,
        lf_summary.polarity,
        lf_summary.n_outputs,
        lf_summary.n_votes,
        lf_summary.coverage,
        lf_summary.overlaps,
        lf_summary.conflicts,
        lf_summary.correct,
        lf_summary.incorrect,
        lf_summary.empirical_accuracy,
        latest_weights.learned_accuracy,
        latest_weights.run_id as label_run_id,
        latest_weights.fitted_at as label_fitted_at
    from lf_summary
    left join latest_weights
        on lf_summary.label_task = latest_weights.label_task
        and lf_summary.lf_name = latest_weights.lf_name
)

select * from final
