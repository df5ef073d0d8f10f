{#-
    Calibration of P(good) against explicit ratings: per label task and P(good) bin
    (`flywheel__report_calibration_bins` equal bins of [0, 1]), the outputs, the rated ones,
    their mean P(good) and the share rated good. A calibrated label model puts the rated share
    near the bin's P(good), up to the bias of who rates. Only bins with outputs have a row.
    Means are flywheel.exact_avg: the same doubles on every build.
-#}
{%- set n_bins = var('flywheel__report_calibration_bins') | int -%}

with

labels as (
    select * from {{ ref('probabilistic_labels') }}
),

binned as (
    select
        label_task,
        p_good,
        explicit_label,
        {{ flywheel.probability_bin('p_good', n_bins) }} as p_good_bin
    from labels
    where p_good is not null
),

per_bin as (
    select
        label_task,
        p_good_bin,
        count(*) as n_outputs,
        {{ flywheel.exact_avg('p_good') }} as mean_p_good,
        count(explicit_label) as n_rated,
        {{ flywheel.exact_avg('case when explicit_label is not null then p_good end') }} as mean_p_good_rated,
        {{ flywheel.exact_avg('explicit_label') }} as share_rated_good
    from binned
    group by label_task, p_good_bin
),

final as (
    select
        label_task,
        p_good_bin,
        cast(p_good_bin as {{ flywheel.type_double() }}) / {{ n_bins }} as bin_lower,
        cast((p_good_bin + 1) as {{ flywheel.type_double() }}) / {{ n_bins }} as bin_upper,
        n_outputs,
        mean_p_good,
        n_rated,
        mean_p_good_rated,
        share_rated_good
    from per_bin
)

select * from final
