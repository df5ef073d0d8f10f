{#-
    Every raw gold row that breaks the gold contract, as it arrived, with the first rule it
    breaks; `raw_line` holds an unreadable JSON line.
-#}
with

validated as (
    select * from {{ ref('base_golden_labels__validated') }}
),

final as (
    select
        rejection_reason,
        raw_output_id as output_id,
        raw_label as label,
        raw_labeled_by as labeled_by,
        raw_labeled_at as labeled_at,
        raw_line
    from validated
    where rejection_reason is not null
)

select * from final
