{#-
    The training set: labelled outputs of the train split that at least one LF voted on and
    whose label is confident enough (confidence >= flywheel__min_confidence). weight is
    |2 P(good) - 1|: 0 for a coin flip, 1 for a sure label.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
    meta={'changed_by': ['labeled_examples']},
) }}
with

{{ flywheel.changed_users_cte() }}

examples as (
    select * from {{ ref('labeled_examples') }}
    {{ flywheel.for_changed_users() }}
),

training as (
    select *
    from examples
    where split = 'train'
        and is_covered
        and p_good is not null
        and confidence >= {{ var('flywheel__min_confidence') }}
)

select * from training
