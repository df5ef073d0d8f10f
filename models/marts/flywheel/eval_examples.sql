{#-
    The held-out evaluation set: every labelled output of the eval split (no confidence
    filter), with the explicit rating kept beside the probabilistic label. The split hashes the
    request, so the same items are held out for every model version.
-#}
with

examples as (
    select * from {{ ref('labeled_examples') }}
),

evaluation as (
    select *
    from examples
    where split = 'eval'
)

select * from evaluation
