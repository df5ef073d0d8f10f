-- No gold label is lost in staging: raw rows = valid labels + repeated labels + rejected rows.
-- Returns a row (and fails) when the counts disagree.
-- depends_on: {{ source('flywheel', 'golden_labels') }}
with

raw_count as (
    select count(*) as n from {{ flywheel.raw_golden_labels() }} as raw_golden_labels
),

valid_count as (
    select count(*) as n from {{ ref('stg_golden_labels') }}
),

duplicate_count as (
    select count(*) as n from {{ ref('base_golden_labels__validated') }}
    where is_duplicate
),

rejected_count as (
    select count(*) as n from {{ ref('stg_golden_labels_rejected') }}
),

compared as (
    select
        raw_count.n as raw_rows,
        valid_count.n as valid_labels,
        duplicate_count.n as repeated_labels,
        rejected_count.n as rejected_rows
    from raw_count
    cross join valid_count
    cross join duplicate_count
    cross join rejected_count
)

select * from compared
where raw_rows != valid_labels + repeated_labels + rejected_rows
