{#-
    One row per model output with its probabilistic label, scored here for ANY vote pattern,
    including patterns the label job never saw: P(good) = sigmoid(prior log-odds + the sum,
    over the LFs of the output's task, of the log-likelihood ratio of the LF's outcome), from
    the scoring parameters `flywheel label` writes (label_model_priors: one row per task;
    label_model_scoring_weights: one row per task and fitted LF). A task fitted with the
    'majority' model has rows without ratios: its P(good) is the share of good votes among the
    votes of those LFs (LFs left out of the fit do not count), 0.5 when none of them voted. The sigmoid
    is written in its overflow-free form (exp of a non-positive number only). The explicit
    rating sits beside the label. Before the label job has run, p_good is null and dbt logs a
    warning; an LF defined after the last fit counts for nothing until the next one (warned).
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
    meta={'changed_by': ['fct_lf_votes']},
) }}
-- depends_on: {{ source('flywheel_labels', 'label_model_priors') }}
-- depends_on: {{ source('flywheel_labels', 'label_model_scoring_weights') }}
{%- set lfs = flywheel.lf_definitions() -%}
{%- set priors_source = source('flywheel_labels', 'label_model_priors') -%}
{%- set weights_source = source('flywheel_labels', 'label_model_scoring_weights') -%}
{%- set missing_tables = [] -%}
{%- if execute -%}
    {%- for scoring_source in [priors_source, weights_source] -%}
        {%- if adapter.get_relation(
            database=scoring_source.database,
            schema=scoring_source.schema,
            identifier=scoring_source.identifier,
        ) is none -%}
            {%- do missing_tables.append(scoring_source | string) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set has_labels = execute and not missing_tables -%}
{%- if execute and not has_labels -%}
    {%- do exceptions.warn(
        "probabilistic_labels: no table " ~ missing_tables | join(', ')
        ~ ": p_good is null until you run `flywheel label` (then `dbt build --selector after_labels`)."
    ) -%}
{%- endif -%}
{%- if has_labels -%}
    {%- set fitted_query -%}
        select priors.label_task, priors.label_model, weights.lf_name
        from {{ priors_source }} as priors
        left join {{ weights_source }} as weights
            on priors.run_id = weights.run_id and priors.label_task = weights.label_task
    {%- endset -%}
    {#- LFs the user left out of the fit are not news: only unknown ones are warned about -#}
    {%- set runs_relation = load_relation(source('flywheel_labels', 'label_model_runs')) -%}
    {%- set excluded = [] -%}
    {%- if runs_relation is not none
        and 'excluded_lfs' in adapter.get_columns_in_relation(runs_relation) | map(attribute='name') | list -%}
        {%- set excluded_query -%}
            select runs.excluded_lfs
            from {{ runs_relation }} as runs
            inner join {{ priors_source }} as priors on runs.run_id = priors.run_id
        {%- endset -%}
        {%- for row in run_query(excluded_query) -%}
            {%- do excluded.extend((row[0] or '').split(',')) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set summed_tasks = [] -%}
    {%- set fitted_lfs = [] -%}
    {%- for row in run_query(fitted_query) -%}
        {%- if row[1] != 'majority' -%}{%- do summed_tasks.append(row[0]) -%}{%- endif -%}
        {%- do fitted_lfs.append(row[0] ~ '.' ~ row[2]) -%}
    {%- endfor -%}
    {%- set unfitted = [] -%}
    {%- for lf in lfs -%}
        {%- if lf.label_task in summed_tasks and (lf.label_task ~ '.' ~ lf.name) not in fitted_lfs
            and lf.name not in excluded -%}
            {%- do unfitted.append(lf.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if unfitted -%}
        {%- do exceptions.warn(
            "probabilistic_labels: " ~ unfitted | join(', ') ~ " not in the label model of its task"
            ~ " (defined after the last fit, or left out of it): it counts for nothing until you run"
            ~ " `flywheel label` again."
        ) -%}
    {%- endif -%}
{%- endif %}

with

{% if is_incremental() -%}
changed_users as (
    {{ flywheel.changed_users() }}
),

fit_changes as (
    -- a new fit (or none any more) relabels every output; otherwise only changed users' outputs
    {%- if has_labels %}
    select * from (
        select label_task, run_id from {{ priors_source }}
        except
        select distinct label_task, label_run_id from {{ this }}
    ) as new_fits
    union all
    select * from (
        select distinct label_task, label_run_id from {{ this }} where label_run_id is not null
        except
        select label_task, run_id from {{ priors_source }}
    ) as old_fits
    {%- else %}
    select label_task, label_run_id from {{ this }} where label_run_id is not null
    {%- endif %}
),

{% endif -%}
votes as (
    select * from {{ ref('fct_lf_votes') }}
    {%- if is_incremental() %}
    where user_id in (select user_id from changed_users)
        or exists (select 1 from fit_changes)
    {%- endif %}
),

{% if has_labels -%}
    priors as (
        select * from {{ priors_source }}
    ),

    scoring_weights as (
        select * from {{ weights_source }}
    ),

    task_weights as (
        select
            run_id,
            label_task,
        {%- for lf in lfs %}
            max(case when lf_name = '{{ lf.name }}' then log_lr_abstain end) as {{ lf.name }}__abstain,
            max(case when lf_name = '{{ lf.name }}' then log_lr_vote_bad end) as {{ lf.name }}__vote_bad,
            max(case when lf_name = '{{ lf.name }}' then log_lr_vote_good end) as {{ lf.name }}__vote_good,
            max(case when lf_name = '{{ lf.name }}' then 1 else 0 end) as {{ lf.name }}__is_fitted
            {{- ',' if not loop.last }}
        {%- endfor %}
        from scoring_weights
        group by run_id, label_task
    ),

    scored as (
        select
            votes.*,
            priors.run_id as label_run_id,
            priors.label_model,
            priors.prior_log_odds
            {%- for lf in lfs %}
                + case votes.{{ lf.name }}
                    when 1 then coalesce(task_weights.{{ lf.name }}__vote_good, 0)
                    when 0 then coalesce(task_weights.{{ lf.name }}__vote_bad, 0)
                    else coalesce(task_weights.{{ lf.name }}__abstain, 0)
                end
            {%- endfor %} as log_odds_good,
            -- the majority model's vote counts, over the fitted LFs only
            {%- for lf in lfs %}
                case when votes.{{ lf.name }} = 1 then coalesce(task_weights.{{ lf.name }}__is_fitted, 0) else 0 end
                {{- ' +' if not loop.last }}
            {%- endfor %} as n_good_fitted_votes,
            {%- for lf in lfs %}
                case when votes.{{ lf.name }} != -1 then coalesce(task_weights.{{ lf.name }}__is_fitted, 0) else 0 end
                {{- ' +' if not loop.last }}
            {%- endfor %} as n_fitted_votes
        from votes
        left join priors
            on votes.label_task = priors.label_task
        left join task_weights
            on priors.run_id = task_weights.run_id
            and priors.label_task = task_weights.label_task
    ),
{%- endif %}

labeled as (
    select
        output_id,
        label_task,
        surface,
        model_version,
        user_id,
        shown_at,
        shown_date,
        n_good_votes,
        n_bad_votes,
        is_covered,
        {%- if has_labels %}
            case
                when label_model = 'majority'
                    then coalesce(cast(n_good_fitted_votes as {{ flywheel.type_double() }}) / nullif(n_fitted_votes, 0), 0.5)
                when log_odds_good >= 0 then 1 / (1 + exp(-log_odds_good))
                else exp(log_odds_good) / (1 + exp(log_odds_good))
            end as p_good,
            label_run_id,
            label_model,
        {%- else %}
            cast(null as {{ flywheel.type_double() }}) as p_good,
            cast(null as {{ dbt.type_string() }}) as label_run_id,
            cast(null as {{ dbt.type_string() }}) as label_model,
        {%- endif %}
        p_good_majority,
        explicit_label,
        {{ flywheel.build_stamp() }}
    from {{ 'scored' if has_labels else 'votes' }}
),

final as (
    select
        *,
        case when p_good >= 0.5 then 1 when p_good < 0.5 then 0 end as label,
        case when p_good >= 0.5 then p_good else 1 - p_good end as confidence
    from labeled
)

select * from final
