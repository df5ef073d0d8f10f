{#-
    The gold set: one row per output a person labelled (golden_label 1 good / 0 bad), the first
    label by labeled_at when the same label was given more than once. Clean by assumption,
    unlike the explicit ratings of the event stream; gold metrics (lf_validation, the label
    job's model selection) are measured against it. Empty when there is no gold.
-#}
with

validated as (
    select * from {{ ref('base_golden_labels__validated') }}
),

final as (
    select
        output_id,
        golden_label,
        labeled_by,
        labeled_at
    from validated
    where rejection_reason is null and not is_duplicate
)

select * from final
