-- No gold label is lost in staging: raw rows = valid labels + repeated labels + rejected rows.
-- Returns a row (and fails) when the counts disagree.
-- depends_on: {{ source('flywheel', 'golden_labels') }}
{{ flywheel.reconcile_counts(
    flywheel.raw_golden_labels(), ref('stg_golden_labels'), ref('base_golden_labels__validated'),
    ref('stg_golden_labels_rejected')
) }}
