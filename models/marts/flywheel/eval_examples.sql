{#-
    The held-out evaluation set: every labelled output of the eval split (no confidence
    filter), with the explicit rating kept beside the probabilistic label. The split hashes the
    request, so the same items are held out for every model version.
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

evaluation as (
    select *
    from examples
    where split = 'eval'
)

select * from evaluation
