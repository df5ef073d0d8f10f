-- Nothing is lost in staging: raw rows = valid events + duplicate deliveries + rejected rows.
-- Returns a row (and fails) when the counts disagree. Raw rows are counted from the same reader
-- staging reads (the file or table of the event contract; a JSON lines file's non-blank lines).
-- depends_on: {{ source('flywheel', 'raw_events') }}
{{ flywheel.reconcile_counts(
    flywheel.raw_events(), ref('stg_events'), ref('base_events__validated'), ref('stg_events_rejected')
) }}
