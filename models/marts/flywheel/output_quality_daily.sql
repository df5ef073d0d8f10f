{#-
    Per surface, model version and day: how many outputs, how many the LFs covered, mean
    P(good) and share labelled good, beside the main signal rates. The table that tells a team
    whether the new model version is better, and when its signals move. Code retention is the
    rate at the longest window of flywheel__retention_windows_seconds (retained_10m_rate by
    default). Means are flywheel.exact_avg (order-independent: the same doubles on every
    build; P(good) and the majority vote's P(good), in [0, 1], kept to 18 decimal places).
-#}
with

labels as (
    select * from {{ ref('probabilistic_labels') }}
),

signal_rates as (
    select * from {{ ref('signal_rates_daily') }}
),

label_daily as (
    select
        surface,
        model_version,
        shown_date,
        count(*) as n_outputs,
        {{ flywheel.exact_avg('case when is_covered then 1 else 0 end') }} as coverage,
        {{ flywheel.exact_avg('case when is_covered then p_good end') }} as mean_p_good,
        {{ flywheel.exact_avg('case when is_covered then label end') }} as share_labeled_good,
        {{ flywheel.exact_avg('case when is_covered then p_good_majority end') }} as mean_p_good_majority,
        count(explicit_label) as n_rated
    from labels
    group by surface, model_version, shown_date
),

final as (
    select
        label_daily.surface,
        label_daily.model_version,
        label_daily.shown_date,
        label_daily.n_outputs,
        label_daily.coverage,
        label_daily.mean_p_good,
        label_daily.share_labeled_good,
        label_daily.mean_p_good_majority,
        label_daily.n_rated,
        signal_rates.accept_rate,
        signal_rates.retained_{{ flywheel.window_label(var('flywheel__retention_windows_seconds') | max) }}_rate,
        signal_rates.copy_rate,
        signal_rates.click_rate,
        signal_rates.rephrase_rate,
        signal_rates.abandon_rate,
        signal_rates.topic_repeat_rate
    from label_daily
    left join signal_rates
        on label_daily.surface = signal_rates.surface
        and label_daily.model_version = signal_rates.model_version
        and label_daily.shown_date = signal_rates.shown_date
)

select * from final
