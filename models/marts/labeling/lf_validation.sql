{#-
    Is each labeling function right on this data? One row per label task and LF: lf_summary
    (coverage, overlaps, conflicts, accuracy against the explicit ratings) with a 95% Wilson
    interval, the same against the gold set (stg_golden_labels), the label model's learned
    accuracy from the task's latest label run, and flags an analyst acts on:

    - wrong_direction: the accuracy interval lies entirely below 0.5 (its vote is wrong more
      often than right). When its vote's class is rare, such an LF can still be evidence for it
      (the outputs it votes on are more often of that class than the rest): the advice then says
      not to invert it;
    - polarity_disagrees: outputs it votes on are less often of its vote's class than the
      outputs it abstains on (upper bound of its accuracy below that rate): firing is evidence
      for the other class;
    - no_better_than_chance: the interval contains 0.5 and is narrow (at most
      flywheel__lf_validation_max_chance_width wide): the LF is measurably close to a coin. A
      wide interval around 0.5 says only that there is too little evidence (not judged);
    - degenerate_learned_accuracy: the label model learned an accuracy within
      flywheel__lf_validation_degenerate_margin of 0 or 1 (the fit's clamp: "never wrong")
      that the evidence does not back (outside the accuracy interval, or not judged).

    Accuracy is judged against gold when the LF voted on at least flywheel__lf_validation_min_votes
    gold outputs, else against the explicit ratings (biased: users rate when annoyed) when it
    voted on that many rated ones (`accuracy_source`), else not at all (`not_enough_evidence`).
    `flag` is the most severe flag and `advice` says what to do. `is_flagged` holds for the three
    flags the evidence raises against the LF itself (what `flywheel label --exclude-flagged`
    leaves out); a degenerate learned accuracy is a flag about the fit, so it is shown but does
    not set it. Before the label job has run,
    the learned columns are null.
-#}
{%- set min_votes = var('flywheel__lf_validation_min_votes') -%}
{%- set margin = var('flywheel__lf_validation_degenerate_margin') -%}
{%- set max_chance_width = var('flywheel__lf_validation_max_chance_width') -%}
{%- set source_words -%}
    case accuracy_source when 'golden' then 'gold set' else 'explicit ratings (biased: confirm with gold)' end
{%- endset -%}
{%- set runs_source = source('flywheel_labels', 'label_model_runs') -%}
{%- set weights_source = source('flywheel_labels', 'label_model_lf_weights') -%}
{%- set runs_relation = load_relation(runs_source) if execute else none -%}
{%- set weights_relation = load_relation(weights_source) if execute else none -%}
{%- set has_label_runs = runs_relation is not none and weights_relation is not none %}

with

lf_summary as (
    select * from {{ ref('lf_summary') }}
),

registry as (
    select * from {{ ref('lf_registry') }}
),

votes_long as (
    select * from {{ ref('int_lf_votes_long') }}
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
            cast(null as {{ flywheel.type_double() }}) as learned_accuracy
        where 1 = 0
    ),
{%- endif %}

golden_counts as (
    select
        votes_long.label_task,
        votes_long.lf_name,
        count(case when votes_long.vote != -1 and votes_long.golden_label is not null then 1 end)
            as n_golden_votes,
        count(case when votes_long.vote != -1 and votes_long.golden_label = votes_long.vote then 1 end)
            as golden_correct,
        count(case when votes_long.vote = -1 and votes_long.golden_label is not null then 1 end)
            as n_golden_abstains,
        count(case when votes_long.vote = -1 and votes_long.golden_label = registry.vote then 1 end)
            as golden_abstains_of_vote_class
    from votes_long
    inner join registry
        on votes_long.lf_name = registry.lf_name
    group by votes_long.label_task, votes_long.lf_name
),

measured as (
    select
        lf_summary.label_task,
        lf_summary.lf_name,
        lf_summary.lf_index,
        registry.votes_for,
        registry.in_label_model,
        lf_summary.polarity,
        lf_summary.n_outputs,
        lf_summary.n_votes,
        lf_summary.coverage,
        lf_summary.{{ adapter.quote('overlaps') }},
        lf_summary.conflicts,
        lf_summary.correct as ratings_correct,
        lf_summary.correct + lf_summary.incorrect as n_rated_votes,
        lf_summary.empirical_accuracy as ratings_accuracy,
        {{ flywheel.wilson_bound('lf_summary.correct', 'lf_summary.correct + lf_summary.incorrect', -1) }}
            as ratings_accuracy_lower,
        {{ flywheel.wilson_bound('lf_summary.correct', 'lf_summary.correct + lf_summary.incorrect', 1) }}
            as ratings_accuracy_upper,
        coalesce(golden_counts.n_golden_votes, 0) as n_golden_votes,
        coalesce(golden_counts.golden_correct, 0) as golden_correct,
        cast(golden_counts.golden_correct as {{ flywheel.type_double() }})
        / nullif(golden_counts.n_golden_votes, 0) as golden_accuracy,
        {{ flywheel.wilson_bound('golden_counts.golden_correct', 'golden_counts.n_golden_votes', -1) }}
            as golden_accuracy_lower,
        {{ flywheel.wilson_bound('golden_counts.golden_correct', 'golden_counts.n_golden_votes', 1) }}
            as golden_accuracy_upper,
        cast(golden_counts.golden_abstains_of_vote_class as {{ flywheel.type_double() }})
        / nullif(golden_counts.n_golden_abstains, 0) as golden_vote_class_rate_when_abstaining,
        latest_weights.learned_accuracy,
        latest_weights.run_id as label_run_id,
        latest_weights.fitted_at as label_fitted_at
    from lf_summary
    inner join registry
        on lf_summary.lf_name = registry.lf_name
    left join golden_counts
        on lf_summary.label_task = golden_counts.label_task
        and lf_summary.lf_name = golden_counts.lf_name
    left join latest_weights
        on lf_summary.label_task = latest_weights.label_task
        and lf_summary.lf_name = latest_weights.lf_name
),

judged as (
    -- the evidence the flags use: gold when there is enough of it, else the ratings
    select
        *,
        case
            when n_golden_votes >= {{ min_votes }} then 'golden'
            when n_rated_votes >= {{ min_votes }} then 'ratings'
        end as accuracy_source
    from measured
),

with_evidence as (
    select
        *,
        case accuracy_source when 'golden' then golden_accuracy when 'ratings' then ratings_accuracy end
            as judged_accuracy,
        case accuracy_source when 'golden' then golden_accuracy_lower when 'ratings' then ratings_accuracy_lower end
            as judged_accuracy_lower,
        case accuracy_source when 'golden' then golden_accuracy_upper when 'ratings' then ratings_accuracy_upper end
            as judged_accuracy_upper,
        case accuracy_source when 'golden' then n_golden_votes when 'ratings' then n_rated_votes else 0 end
            as n_judged_votes
    from judged
),

flagged as (
    select
        *,
        coalesce(judged_accuracy_upper < 0.5, false) as is_wrong_direction,
        coalesce(
            accuracy_source = 'golden' and n_golden_votes > 0
            and judged_accuracy_upper < golden_vote_class_rate_when_abstaining,
            false
        ) as is_polarity_disagreeing,
        coalesce(
            judged_accuracy_lower <= 0.5 and judged_accuracy_upper >= 0.5
            and judged_accuracy_upper - judged_accuracy_lower <= {{ max_chance_width }},
            false
        ) as is_no_better_than_chance,
        coalesce(
            (learned_accuracy >= 1 - {{ margin }} or learned_accuracy <= {{ margin }})
            -- unless the evidence agrees (e.g. right on every one of its gold votes)
            and not coalesce(
                learned_accuracy between judged_accuracy_lower - 1e-9 and judged_accuracy_upper + 1e-9, false
            ),
            false
        ) as is_degenerate_learned_accuracy
    from with_evidence
),

final as (
    select
        label_task,
        lf_name,
        lf_index,
        votes_for,
        in_label_model,
        polarity,
        n_outputs,
        n_votes,
        coverage,
        {{ adapter.quote('overlaps') }},
        conflicts,
        n_rated_votes,
        ratings_correct,
        ratings_accuracy,
        ratings_accuracy_lower,
        ratings_accuracy_upper,
        n_golden_votes,
        golden_correct,
        golden_accuracy,
        golden_accuracy_lower,
        golden_accuracy_upper,
        golden_vote_class_rate_when_abstaining,
        learned_accuracy,
        label_run_id,
        label_fitted_at,
        accuracy_source,
        n_judged_votes,
        judged_accuracy,
        judged_accuracy_lower,
        judged_accuracy_upper,
        is_wrong_direction,
        is_polarity_disagreeing,
        is_no_better_than_chance,
        is_degenerate_learned_accuracy,
        is_wrong_direction or is_polarity_disagreeing or is_no_better_than_chance as is_flagged,
        case
            when is_wrong_direction then 'wrong_direction'
            when is_polarity_disagreeing then 'polarity_disagrees'
            when is_no_better_than_chance then 'no_better_than_chance'
            when is_degenerate_learned_accuracy then 'degenerate_learned_accuracy'
            when accuracy_source is null then 'not_enough_evidence'
            when judged_accuracy_lower <= 0.5 then 'not_enough_evidence'
        end as flag,
        case
            when is_wrong_direction and accuracy_source = 'golden'
                and judged_accuracy > golden_vote_class_rate_when_abstaining
                then
                'Its ' || votes_for || ' vote is wrong more often than right on the gold set, but the'
                || ' outputs it votes on are still more often ' || votes_for || ' than those it abstains on'
                || ' (a rare class): do not invert it; a label model that knows the class prior weighs it'
                || ' right (fit with --model auto and the gold set, or --class-balance).'
            when is_wrong_direction
                then
                'Its ' || votes_for || ' vote is wrong more often than right on the '
                || {{ source_words }}
                || ': invert the vote in labeling_functions() or leave it out of the fit'
                || ' (flywheel__lfs_excluded_from_fit).'
            when is_polarity_disagreeing
                then
                'Outputs it votes ' || votes_for || ' on are less often ' || votes_for
                || ' in the gold set than those it abstains on: its signal points the other way'
                || ' here; invert it or leave it out of the fit.'
            when is_no_better_than_chance
                then
                'Right about as often as a coin on the ' || {{ source_words }}
                || ': retune its threshold (flywheel__lf_params) or leave it out of the fit'
                || ' (flywheel__lfs_excluded_from_fit).'
            when is_degenerate_learned_accuracy
                then
                'The label model treats it as never wrong (learned accuracy at the clamp) and the'
                || ' evidence does not back that: add or grow a gold set (flywheel run --golden FILE),'
                || ' which --model auto uses to estimate the prior and pick a better-calibrated fit.'
            when accuracy_source is null
                then
                'Not enough evidence to judge it: it voted on fewer than {{ min_votes }} gold'
                || ' or rated outputs; add a gold set (flywheel run --golden FILE) or wait for'
                || ' more ratings.'
            when judged_accuracy_lower <= 0.5
                then
                'Not shown to beat a coin: its accuracy interval on the ' || {{ source_words }}
                || ' still contains 0.5; label more outputs (flywheel run --golden FILE) to judge it.'
        end as advice
    from flagged
)

select * from final
