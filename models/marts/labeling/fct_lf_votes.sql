{#-
    The vote matrix: one row per model output, one column per labeling function (LF) of
    `labeling_functions()` (macros/labeling_functions.sql, the one place LFs are defined; their
    meaning is in lf_registry): 1 = good output, 0 = bad output, -1 = abstain. An LF abstains on
    every task but its own. Beside the votes: the number of good and bad votes and the majority
    vote (computed here, once), explicit_label (the rare explicit rating: 1 / 0 / null, biased
    towards complaints) and golden_label (the gold set's label: 1 / 0 / null), both for metrics,
    never votes.
-#}
{{ config(
    materialized=flywheel.incremental_materialization(),
    incremental_strategy='flywheel_users',
    on_schema_change='fail',
) }}
{%- set lfs = flywheel.lf_definitions() -%}

with

golden_labels as (
    select * from {{ ref('stg_golden_labels') }}
),

{% if is_incremental() -%}
changed_users as (
    {{ flywheel.changed_users() }}
    union
    -- users with an output whose gold label came, went or changed since the last build
    select stored.user_id
    from {{ this }} as stored
    left join golden_labels
        on stored.output_id = golden_labels.output_id
    where stored.golden_label is distinct from golden_labels.golden_label
),

{% endif -%}
signals as (
    select * from {{ ref('fct_output_signals') }}
    {{ flywheel.for_changed_users() }}
),

signals_with_gold as (
    select
        signals.*,
        golden_labels.golden_label
    from signals
    left join golden_labels
        on signals.output_id = golden_labels.output_id
),

votes as (
    select
        output_id,
        label_task,
        surface,
        model_version,
        user_id,
        shown_at,
        shown_date,
        case explicit_rating when 1 then 1 when -1 then 0 end as explicit_label,
        golden_label,
        {%- for lf in lfs %}
            {{ flywheel.labeling_function(lf) }} as {{ lf.name }},
        {%- endfor %}
        {{ flywheel.build_stamp() }}
    from signals_with_gold
),

counted as (
    select
        *,
        {% for lf in lfs -%}
            case when {{ lf.name }} = 1 then 1 else 0 end{{ ' +' if not loop.last }}
        {% endfor -%} as n_good_votes,
        {% for lf in lfs -%}
            case when {{ lf.name }} = 0 then 1 else 0 end{{ ' +' if not loop.last }}
        {% endfor -%} as n_bad_votes
    from votes
),

final as (
    select
        *,
        n_good_votes + n_bad_votes > 0 as is_covered,
        cast(n_good_votes as {{ flywheel.type_double() }}) / nullif(n_good_votes + n_bad_votes, 0) as p_good_majority
    from counted
)

select * from final
