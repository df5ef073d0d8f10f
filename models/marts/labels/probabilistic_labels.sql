{#-
    One row per model output with its probabilistic label: the label model's P(good) for the
    output's vote pattern (joined from label_model_patterns, written by `flywheel label`), the
    majority vote beside it, and the explicit rating when there is one. Before the label job
    has run, p_good is null and dbt logs a warning.
-#}
{%- set lf_names = flywheel.lf_columns(ref('fct_lf_votes')) -%}
{%- set patterns = adapter.get_relation(
    database=source('flywheel_labels', 'label_model_patterns').database,
    schema=source('flywheel_labels', 'label_model_patterns').schema,
    identifier=source('flywheel_labels', 'label_model_patterns').identifier,
) if execute else none -%}
{%- set pattern_columns = flywheel.lf_columns(patterns) if patterns is not none else [] -%}
{%- set has_labels = patterns is not none and pattern_columns | sort == lf_names | sort -%}
{%- if execute and not has_labels -%}
    {%- do exceptions.warn(
        "probabilistic_labels: no label model patterns matching the LF columns of fct_lf_votes; "
        ~ "p_good is null until you run `flywheel label` (then `dbt build -s probabilistic_labels+`)."
    ) -%}
{%- endif %}

with

votes as (
    select * from {{ ref('fct_lf_votes') }}
),

{% if has_labels -%}
patterns as (
    select * from {{ source('flywheel_labels', 'label_model_patterns') }}
),
{%- endif %}

counted as (
    select
        *,
        {%- if lf_names %}
        {%- for lf in lf_names %}
        case when {{ lf }} = 1 then 1 else 0 end{{ ' +' if not loop.last }}
        {%- endfor %} as n_good_votes,
        {%- for lf in lf_names %}
        case when {{ lf }} = 0 then 1 else 0 end{{ ' +' if not loop.last }}
        {%- endfor %} as n_bad_votes
        {%- else %}
        0 as n_good_votes,
        0 as n_bad_votes
        {%- endif %}
    from votes
),

labeled as (
    select
        counted.output_id,
        counted.label_task,
        counted.surface,
        counted.model_version,
        counted.user_id,
        counted.shown_at,
        counted.shown_date,
        counted.n_good_votes,
        counted.n_bad_votes,
        counted.n_good_votes + counted.n_bad_votes > 0 as is_covered,
        {%- if has_labels %}
        patterns.p_good,
        patterns.run_id as label_run_id,
        {%- else %}
        cast(null as {{ dbt.type_float() }}) as p_good,
        cast(null as {{ dbt.type_string() }}) as label_run_id,
        {%- endif %}
        counted.n_good_votes * 1.0 / nullif(counted.n_good_votes + counted.n_bad_votes, 0)
            as p_good_majority,
        counted.explicit_label
    from counted
    {%- if has_labels %}
    left join patterns
        on counted.label_task = patterns.label_task
        {%- for lf in lf_names %}
        and counted.{{ lf }} = patterns.{{ lf }}
        {%- endfor %}
    {%- endif %}
),

final as (
    select
        *,
        case when p_good >= 0.5 then 1 when p_good < 0.5 then 0 end as label,
        case when p_good >= 0.5 then p_good else 1 - p_good end as confidence
    from labeled
)

select * from final
