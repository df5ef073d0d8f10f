{#-
    The votes in long form: one row per (output, labeling function of the output's task), with
    the vote (1 good, 0 bad, -1 abstain). An LF appears only on its own task's outputs, so every
    aggregate over LFs (lf_summary, drift_daily) reads this one unpivot of fct_lf_votes.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
    meta={'changed_by': ['fct_lf_votes']},
) }}
{%- set lfs = flywheel.lf_definitions() -%}

with

{{ flywheel.changed_users_cte() }}

votes as (
    select * from {{ ref('fct_lf_votes') }}
    {{ flywheel.for_changed_users() }}
),

long_votes as (
    {%- for lf in lfs %}
        select
            output_id,
            user_id,
            label_task,
            shown_date,
            explicit_label,
            golden_label,
            cast('{{ lf.name }}' as {{ dbt.type_string() }}) as lf_name,
            cast({{ lf.lf_position }} as {{ dbt.type_int() }}) as lf_position,
            {{ lf.name }} as vote,
            {{ flywheel.build_stamp() }}
        from votes
        where label_task = '{{ lf.label_task }}'
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from long_votes
)

select * from final
