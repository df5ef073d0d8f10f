{#-
    Every raw gold row (macro raw_golden_labels: the file flywheel__golden_labels_path or the
    table golden_labels), typed, with the first rule it breaks (`rejection_reason`, null when
    valid) and whether it repeats an earlier valid row of the same output (`is_duplicate`).
    stg_golden_labels and stg_golden_labels_rejected are filters of this model, so raw = valid +
    duplicates + rejected holds by construction (tests/assert_golden_labels_reconcile.sql).
    Labels: 1, good, true, +1 mean good; 0, bad, false, -1 mean bad (any case, trimmed). An
    output labelled both good and bad is rejected in every row (`conflicting_labels`): settle
    it in the annotation tool, flywheel does not guess which person was right.
-#}
{%- set raw_columns = ['output_id', 'label', 'labeled_by', 'labeled_at'] -%}
-- depends_on: {{ source('flywheel', 'golden_labels') }}

with

raw_golden_labels as (
    select * from {{ flywheel.raw_golden_labels() }} as raw_golden_labels
),

typed as (
    select
        {{ flywheel.clean_text('output_id') }} as output_id,
        case lower({{ flywheel.clean_text('label') }})
            when '1' then 1 when '1.0' then 1 when '+1' then 1 when 'good' then 1 when 'true' then 1
            when '0' then 0 when '0.0' then 0 when '-1' then 0 when 'bad' then 0 when 'false' then 0
        end as golden_label,
        {{ flywheel.clean_text('labeled_by') }} as labeled_by,
        {{ flywheel.parse_utc_timestamp('labeled_at') }} as labeled_at,
        {%- for name in raw_columns %}
            cast({{ name }} as {{ dbt.type_string() }}) as raw_{{ name }},
        {%- endfor %}
        raw_line,
        is_unreadable_line,
        {{ dbt.hash(dbt.concat([
            "coalesce(cast(output_id as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(label as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(labeled_by as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(cast(labeled_at as " ~ dbt.type_string() ~ "), '~')", "'|'",
            "coalesce(raw_line, '~')",
        ])) }} as row_hash
    from raw_golden_labels
),

checked as (
    select
        *,
        case
            when is_unreadable_line then 'unreadable_line'
            when output_id is null then 'missing_output_id'
            when {{ flywheel.clean_text('raw_label') }} is null then 'missing_label'
            when golden_label is null then 'invalid_label'
            when {{ flywheel.clean_text('raw_labeled_at') }} is not null and labeled_at is null
                then 'invalid_labeled_at'
        end as row_rejection_reason
    from typed
),

with_conflicts as (
    select
        *,
        case
            when row_rejection_reason is null
                and min(case when row_rejection_reason is null then golden_label end)
                    over (partition by output_id)
                != max(case when row_rejection_reason is null then golden_label end)
                    over (partition by output_id)
                then 'conflicting_labels'
            else row_rejection_reason
        end as rejection_reason
    from checked
),

ranked as (
    select
        *,
        case
            when rejection_reason is null
                then row_number() over (
                    partition by output_id, rejection_reason is null
                    order by labeled_at nulls last, labeled_by nulls last, row_hash
                )
        end as label_rank
    from with_conflicts
),

final as (
    select
        output_id,
        golden_label,
        labeled_by,
        labeled_at,
        rejection_reason,
        coalesce(label_rank > 1, false) as is_duplicate,
        {%- for name in raw_columns %}
            raw_{{ name }},
        {%- endfor %}
        raw_line
    from ranked
)

select * from final
