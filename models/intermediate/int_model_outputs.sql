{#-
    One row per model output shown to a user: the unit we label. Built from output_shown
    events (the first showing wins; showings are counted), with the request it answers and the
    label task of its surface. Events about an output that was never shown do not make a row.
    The first showing is int_output_showings'.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
with

{{ flywheel.changed_users_cte() }}

output_showings as (
    select * from {{ ref('int_output_showings') }}
    {{ flywheel.for_changed_users() }}
),

requests as (
    select * from {{ ref('int_requests') }}
    {{ flywheel.for_changed_users() }}
),

label_tasks as (
    select * from {{ ref('label_tasks') }}
),

final as (
    select
        output_showings.output_id,
        output_showings.request_id,
        output_showings.user_id,
        output_showings.surface,
        label_tasks.label_task,
        output_showings.model_version,
        output_showings.session_id,
        output_showings.shown_at,
        cast(output_showings.shown_at as date) as shown_date,
        output_showings.times_shown,
        output_showings.output_text,
        output_showings.output_n_chars,
        output_showings.n_results,
        requests.requested_at,
        requests.request_text,
        {{ flywheel.build_stamp() }}
    from output_showings
    inner join label_tasks
        on output_showings.surface = label_tasks.surface
    left join requests
        on output_showings.request_id = requests.request_id
)

select * from final
