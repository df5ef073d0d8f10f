{#-
    One row per model output with its probabilistic label: the label model's P(good) for the
    output's vote pattern (joined from label_model_patterns, written by `flywheel label`), the
    majority vote beside it (from fct_lf_votes), and the explicit rating when there is one.
    Before the label job has run, p_good is null and dbt logs a warning.
-#}
-- depends_on: {{ source('flywheel_labels', 'label_model_patterns') }}
{%- set lfs = flywheel.lf_definitions() -%}
{%- set patterns_source = source('flywheel_labels', 'label_model_patterns') -%}
{%- set patterns_relation = adapter.get_relation(
    database=patterns_source.database,
    schema=patterns_source.schema,
    identifier=patterns_source.identifier,
) if execute else none -%}
{%- set pattern_columns = [] -%}
{%- if patterns_relation is not none -%}
    {%- for column in adapter.get_columns_in_relation(patterns_relation) -%}
        {%- do pattern_columns.append(column.name | lower) -%}
    {%- endfor -%}
{%- endif -%}
{%- set missing = lfs | map(attribute='name') | reject('in', pattern_columns) | list -%}
{%- set has_labels = patterns_relation is not none and not missing -%}
{%- if execute and not has_labels -%}
    {%- do exceptions.warn(
        "probabilistic_labels: " ~ ("no table " ~ patterns_source if patterns_relation is none
            else patterns_source ~ " lacks the LF column(s) " ~ missing | join(', '))
        ~ ": p_good is null until you run `flywheel label` (then `dbt build --selector after_labels`)."
    ) -%}
{%- endif %}

with

votes as (
    select * from {{ ref('fct_lf_votes') }}
),

{% if has_labels -%}
patterns as (
    select * from {{ patterns_source }}
),
{%- endif %}

labeled as (
    select
        votes.output_id,
        votes.label_task,
        votes.surface,
        votes.model_version,
        votes.user_id,
        votes.shown_at,
        votes.shown_date,
        votes.n_good_votes,
        votes.n_bad_votes,
        votes.is_covered,
        {%- if has_labels %}
        patterns.p_good,
        patterns.run_id as label_run_id,
        {%- else %}
            cast(null as {{ flywheel.type_double() }}) as p_good,
            cast(null as {{ dbt.type_string() }}) as label_run_id,
        {%- endif %}
        votes.p_good_majority,
        votes.explicit_label
    from votes
    {%- if has_labels %}
    left join patterns
        on votes.label_task = patterns.label_task
        {%- for lf in lfs %}
        and votes.{{ lf.name }} = patterns.{{ lf.name }}
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
