{#-
    Signal rates per surface, model version and day (of first showing): what share of outputs
    were accepted, copied, rephrased, abandoned... Rates are over the outputs the signal can
    apply to (code retention over accepted outputs, click rates over search outputs...).
-#}
with

signals as (
    select * from {{ ref('fct_output_signals') }}
),

daily as (
    select
        surface,
        model_version,
        shown_date,
        count(*) as n_outputs,
        avg(case when is_accepted then 1.0 else 0.0 end) as accept_rate,
        avg(case when is_rejected then 1.0 else 0.0 end) as reject_rate,
        avg(case when is_ignored then 1.0 else 0.0 end) as ignore_rate,
        {%- for window in var('flywheel__retention_windows_seconds') %}
            {%- set retained = 'is_retained_' ~ flywheel.window_label(window) %}
            avg(case when {{ retained }} then 1.0 when {{ retained }} is not null then 0.0 end)
                as retained_{{ flywheel.window_label(window) }}_rate,
        {%- endfor %}
        avg(share_rewritten) as mean_share_rewritten,
        avg(dwell_seconds) as mean_dwell_seconds,
        avg(case when is_rerequested then 1.0 else 0.0 end) as rerequest_rate,
        avg(case when is_rephrased then 1.0 else 0.0 end) as rephrase_rate,
        avg(case when is_copied then 1.0 else 0.0 end) as copy_rate,
        avg(case when is_clicked then 1.0 else 0.0 end) as click_rate,
        avg(case when is_long_click then 1.0 else 0.0 end) as long_click_rate,
        avg(first_click_position) as mean_first_click_position,
        avg(case when is_session_abandoned then 1.0 when is_session_abandoned is not null then 0.0 end)
            as abandon_rate,
        avg(case when is_topic_repeated then 1.0 else 0.0 end) as topic_repeat_rate,
        avg(case when has_explicit_rating then 1.0 else 0.0 end) as rated_rate,
        avg(case when explicit_rating = 1 then 1.0 when explicit_rating = -1 then 0.0 end)
            as positive_rating_share
    from signals
    group by surface, model_version, shown_date
)

select * from daily
