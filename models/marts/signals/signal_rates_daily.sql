{#-
    Signal rates per surface, model version and day (of first showing): what share of outputs
    were accepted, copied, rephrased, abandoned... Rates are over the outputs the signal can
    apply to (code retention over accepted outputs, click rates over search outputs...).
    Every mean is flywheel.exact_avg: order-independent, so two builds of the same events give
    the same doubles to the last bit (0/1 indicators and click positions are summed exactly;
    share_rewritten and dwell seconds at 18 decimal places).
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
        {{ flywheel.exact_avg('case when is_accepted then 1 else 0 end') }} as accept_rate,
        {{ flywheel.exact_avg('case when is_rejected then 1 else 0 end') }} as reject_rate,
        {{ flywheel.exact_avg('case when is_ignored then 1 else 0 end') }} as ignore_rate,
        {%- for window in var('flywheel__retention_windows_seconds') %}
            {%- set retained = 'is_retained_' ~ flywheel.window_label(window) %}
            {{ flywheel.exact_avg('case when ' ~ retained ~ ' then 1 when ' ~ retained ~ ' is not null then 0 end') }}
                as retained_{{ flywheel.window_label(window) }}_rate,
        {%- endfor %}
        {{ flywheel.exact_avg('share_rewritten') }} as mean_share_rewritten,
        {{ flywheel.exact_avg('dwell_seconds') }} as mean_dwell_seconds,
        {{ flywheel.exact_avg('case when is_rerequested then 1 else 0 end') }} as rerequest_rate,
        {{ flywheel.exact_avg('case when is_rephrased then 1 else 0 end') }} as rephrase_rate,
        {{ flywheel.exact_avg('case when is_copied then 1 else 0 end') }} as copy_rate,
        {{ flywheel.exact_avg('case when is_clicked then 1 else 0 end') }} as click_rate,
        {{ flywheel.exact_avg('case when is_long_click then 1 else 0 end') }} as long_click_rate,
        {{ flywheel.exact_avg('first_click_position') }} as mean_first_click_position,
        {{ flywheel.exact_avg('case when is_session_abandoned then 1 when not is_session_abandoned then 0 end') }}
            as abandon_rate,
        {{ flywheel.exact_avg('case when is_topic_repeated then 1 else 0 end') }} as topic_repeat_rate,
        {{ flywheel.exact_avg('case when has_explicit_rating then 1 else 0 end') }} as rated_rate,
        {{ flywheel.exact_avg('case when explicit_rating = 1 then 1 when explicit_rating = -1 then 0 end') }}
            as positive_rating_share
    from signals
    group by surface, model_version, shown_date
)

select * from daily
