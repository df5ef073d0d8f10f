{#-
    Every labelled output with its text, its probabilistic label, and its split: 'eval' when
    the hash of its request_id falls in the first flywheel__eval_percent buckets of 100, else
    'train'. The split depends on the request alone, so an item stays in the same split across
    runs and model versions. training_examples and eval_examples are its two halves.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
    meta={'changed_by': ['probabilistic_labels']},
) }}
with

{{ flywheel.changed_users_cte() }}

labels as (
    select * from {{ ref('probabilistic_labels') }}
    {{ flywheel.for_changed_users() }}
),

outputs as (
    select * from {{ ref('int_model_outputs') }}
    {{ flywheel.for_changed_users() }}
),

joined as (
    select
        labels.output_id,
        outputs.request_id,
        labels.label_task,
        labels.surface,
        labels.model_version,
        labels.user_id,
        labels.shown_at,
        labels.shown_date,
        outputs.request_text,
        outputs.output_text,
        labels.is_covered,
        labels.p_good,
        labels.label,
        labels.confidence,
        abs(2 * labels.p_good - 1) as weight,
        labels.p_good_majority,
        labels.explicit_label,
        labels.label_run_id,
        case
            when {{ flywheel.hash_bucket('outputs.request_id') }} < {{ var('flywheel__eval_percent') }}
                then 'eval'
            else 'train'
        end as split,
        {{ flywheel.build_stamp() }}
    from labels
    inner join outputs
        on labels.output_id = outputs.output_id
)

select * from joined
