-- Warns (does not fail the build) when a labeling function or a signal drifted in the last
-- flywheel__drift_recent_days days of data: look at drift_daily where is_flagged.
{{ config(severity='warn') }}

with

drift as (
    select * from {{ ref('drift_daily') }}
),

latest as (
    select max(shown_date) as last_day from drift
)

select drift.*
from drift
cross join latest
where drift.is_flagged
    and drift.shown_date > {{ dbt.dateadd('day', -1 * var('flywheel__drift_recent_days'), 'latest.last_day') }}
