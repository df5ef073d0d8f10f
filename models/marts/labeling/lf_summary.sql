{#-
    Snorkel's LFAnalysis(L).lf_summary(Y) in SQL, per label task: for each LF of the task,
    over the task's outputs (L), its polarity, coverage, overlaps and conflicts; and over the
    outputs with an explicit rating (Y), its correct and incorrect votes and empirical accuracy.
    Fractions are of the task's outputs, as in Snorkel.
-#}
{%- set lf_names = flywheel.lf_columns(ref('fct_lf_votes')) -%}

with

votes as (
    select * from {{ ref('fct_lf_votes') }}
),

label_tasks as (
    select * from {{ ref('label_tasks') }}
),

votes_long as (
    {%- for lf in lf_names %}
    select
        output_id,
        label_task,
        explicit_label,
        '{{ lf }}' as lf_name,
        {{ loop.index0 }} as lf_position,
        {{ lf }} as vote
    from votes
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not lf_names %}
    select
        cast(null as {{ dbt.type_string() }}) as output_id,
        cast(null as {{ dbt.type_string() }}) as label_task,
        cast(null as {{ dbt.type_int() }}) as explicit_label,
        cast(null as {{ dbt.type_string() }}) as lf_name,
        cast(null as {{ dbt.type_int() }}) as lf_position,
        cast(null as {{ dbt.type_int() }}) as vote
    where 1 = 0
    {%- endif %}
),

task_votes as (
    -- keep each LF on its own task's outputs only
    select votes_long.*
    from votes_long
    inner join label_tasks
        on votes_long.label_task = label_tasks.label_task
        and substring(votes_long.lf_name, 1, length(label_tasks.lf_prefix)) = label_tasks.lf_prefix
),

per_output as (
    select
        output_id,
        count(case when vote = 1 then 1 end) as n_good_votes,
        count(case when vote = 0 then 1 end) as n_bad_votes
    from task_votes
    group by output_id
),

task_sizes as (
    select label_task, count(*) as n_outputs
    from votes
    group by label_task
),

per_lf as (
    select
        task_votes.label_task,
        task_votes.lf_name,
        min(task_votes.lf_position) as lf_position,
        max(case when task_votes.vote = 0 then 1 else 0 end) as has_bad_polarity,
        max(case when task_votes.vote = 1 then 1 else 0 end) as has_good_polarity,
        count(case when task_votes.vote != -1 then 1 end) as n_votes,
        count(case
            when task_votes.vote != -1
                and per_output.n_good_votes + per_output.n_bad_votes > 1 then 1
        end) as n_overlaps,
        count(case
            when task_votes.vote != -1
                and per_output.n_good_votes > 0 and per_output.n_bad_votes > 0 then 1
        end) as n_conflicts,
        count(case
            when task_votes.vote != -1 and task_votes.explicit_label is not null
                and task_votes.vote = task_votes.explicit_label then 1
        end) as n_correct,
        count(case
            when task_votes.vote != -1 and task_votes.explicit_label is not null
                and task_votes.vote != task_votes.explicit_label then 1
        end) as n_incorrect
    from task_votes
    inner join per_output
        on task_votes.output_id = per_output.output_id
    group by task_votes.label_task, task_votes.lf_name
),

final as (
    select
        per_lf.label_task,
        per_lf.lf_name,
        row_number() over (partition by per_lf.label_task order by per_lf.lf_position) - 1 as lf_index,
        case
            when has_bad_polarity = 1 and has_good_polarity = 1 then '[0, 1]'
            when has_bad_polarity = 1 then '[0]'
            when has_good_polarity = 1 then '[1]'
            else '[]'
        end as polarity,
        task_sizes.n_outputs,
        per_lf.n_votes,
        per_lf.n_votes * 1.0 / task_sizes.n_outputs as coverage,
        per_lf.n_overlaps * 1.0 / task_sizes.n_outputs as overlaps,
        per_lf.n_conflicts * 1.0 / task_sizes.n_outputs as conflicts,
        per_lf.n_correct as correct,
        per_lf.n_incorrect as incorrect,
        per_lf.n_correct * 1.0 / nullif(per_lf.n_correct + per_lf.n_incorrect, 0)
            as empirical_accuracy
    from per_lf
    inner join task_sizes
        on per_lf.label_task = task_sizes.label_task
)

select * from final
