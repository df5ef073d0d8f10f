-- Nothing is lost in staging: raw rows = valid events + duplicate deliveries + rejected rows.
-- Returns a row (and fails) when the counts disagree. Raw rows are counted from the same reader
-- staging reads (the file or table of the event contract; a JSON lines file's non-blank lines).
-- depends_on: {{ source('flywheel', 'raw_events') }}
with

raw_count as (
    select count(*) as n from {{ flywheel.raw_events() }} as raw_events
),

valid_count as (
    select count(*) as n from {{ ref('stg_events') }}
),

duplicate_count as (
    select count(*) as n from {{ ref('base_events__validated') }}
    where is_duplicate
),

rejected_count as (
    select count(*) as n from {{ ref('stg_events_rejected') }}
),

compared as (
    select
        raw_count.n as raw_rows,
        valid_count.n as valid_events,
        duplicate_count.n as duplicate_deliveries,
        rejected_count.n as rejected_rows
    from raw_count
    cross join valid_count
    cross join duplicate_count
    cross join rejected_count
)

select * from compared
where raw_rows != valid_events + duplicate_deliveries + rejected_rows
