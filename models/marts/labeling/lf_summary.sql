{#-
    Snorkel's LFAnalysis(L).lf_summary(Y) in SQL, per label task: for each LF of the task,
    over the task's outputs (L), its polarity, coverage, overlaps and conflicts; and over the
    outputs with an explicit rating (Y), its correct and incorrect votes and empirical accuracy.
    Fractions are of the task's outputs, as in Snorkel. (overlaps is quoted, through adapter.quote:
    sqlfluff's DuckDB dialect reads a bare overlaps as the OVERLAPS operator.)
-#}
with

votes_long as (
    select * from {{ ref('int_lf_votes_long') }}
),

outputs as (
    select
        output_id,
        label_task,
        n_good_votes,
        n_bad_votes
    from {{ ref('fct_lf_votes') }}
),

task_sizes as (
    select
        label_task,
        count(*) as n_outputs
    from outputs
    group by label_task
),

per_lf as (
    select
        votes_long.label_task,
        votes_long.lf_name,
        min(votes_long.lf_position) as lf_position,
        max(case when votes_long.vote = 0 then 1 else 0 end) as has_bad_polarity,
        max(case when votes_long.vote = 1 then 1 else 0 end) as has_good_polarity,
        count(case when votes_long.vote != -1 then 1 end) as n_votes,
        count(case
            when votes_long.vote != -1
                and outputs.n_good_votes + outputs.n_bad_votes > 1 then 1
        end) as n_overlaps,
        count(case
            when votes_long.vote != -1
                and outputs.n_good_votes > 0 and outputs.n_bad_votes > 0 then 1
        end) as n_conflicts,
        count(case
            when votes_long.vote != -1 and votes_long.explicit_label is not null
                and votes_long.vote = votes_long.explicit_label then 1
        end) as n_correct,
        count(case
            when votes_long.vote != -1 and votes_long.explicit_label is not null
                and votes_long.vote != votes_long.explicit_label then 1
        end) as n_incorrect
    from votes_long
    inner join outputs
        on votes_long.output_id = outputs.output_id
    group by votes_long.label_task, votes_long.lf_name
),

final as (
    select
        per_lf.label_task,
        per_lf.lf_name,
        row_number() over (partition by per_lf.label_task order by per_lf.lf_position) - 1 as lf_index,
        case
            when per_lf.has_bad_polarity = 1 and per_lf.has_good_polarity = 1 then '[0, 1]'
            when per_lf.has_bad_polarity = 1 then '[0]'
            when per_lf.has_good_polarity = 1 then '[1]'
            else '[]'
        end as polarity,
        task_sizes.n_outputs,
        per_lf.n_votes,
        cast(per_lf.n_votes as {{ flywheel.type_double() }}) / task_sizes.n_outputs as coverage,
        cast(per_lf.n_overlaps as {{ flywheel.type_double() }}) / task_sizes.n_outputs
            as {{ adapter.quote('overlaps') }},
        cast(per_lf.n_conflicts as {{ flywheel.type_double() }}) / task_sizes.n_outputs as conflicts,
        per_lf.n_correct as correct,
        per_lf.n_incorrect as incorrect,
        cast(per_lf.n_correct as {{ flywheel.type_double() }})
        / nullif(per_lf.n_correct + per_lf.n_incorrect, 0) as empirical_accuracy
    from per_lf
    inner join task_sizes
        on per_lf.label_task = task_sizes.label_task
)

select * from final
