{#-
    One row per model output, one column per labeling function (LF): 1 = good output,
    0 = bad output, -1 = abstain. An LF belongs to the label task whose lf_prefix (seed
    label_tasks) starts its name, and abstains on every other task's outputs. Each LF is
    documented in _labeling__models.yml. explicit_label (the rare explicit rating: 1 / 0 / null)
    is kept beside the votes as gold for metrics; it is never a vote.
-#}
{%- set code = 'code_suggestion' -%}
{%- set chat = 'chat_response' -%}
{%- set search = 'search_result' -%}

with

signals as (
    select * from {{ ref('fct_output_signals') }}
),

votes as (
    select
        output_id,
        label_task,
        surface,
        model_version,
        user_id,
        shown_at,
        shown_date,
        case explicit_rating when 1 then 1 when -1 then 0 end as explicit_label,

        -- code_suggestion. LFs read off the same accept -> edit -> revert chain are kept
        -- mutually exclusive across polarities (kept code is not heavily rewritten, not
        -- reverted): the label model assumes LFs independent given the true label, and a
        -- good-vote LF that co-fires with a bad-vote LF by construction misleads it.
        {{ flywheel.labeling_function(code, 'is_retained_10m and coalesce(share_rewritten, 0) <= 0.5', 1) }}
            as lf_code_accepted_retained_10m,
        {{ flywheel.labeling_function(code, 'share_rewritten > 0.5', 0) }}
            as lf_code_heavily_rewritten,
        {{ flywheel.labeling_function(code, 'share_rewritten <= 0.2 and is_retained_10m', 1) }}
            as lf_code_lightly_edited,
        {{ flywheel.labeling_function(code, 'not is_retained_2m', 0) }}
            as lf_code_reverted_within_2m,
        {{ flywheel.labeling_function(code, 'not is_retained_10m', 0) }}
            as lf_code_reverted_within_10m,
        {{ flywheel.labeling_function(code, 'is_rejected', 0) }}
            as lf_code_rejected,
        {{ flywheel.labeling_function(code, 'dwell_seconds <= ' ~ var('flywheel__quick_accept_seconds', 2) ~ ' and is_retained_10m and coalesce(share_rewritten, 0) <= 0.5', 1) }}
            as lf_code_quick_accept,
        {{ flywheel.labeling_function(code, 'is_rerequested', 0) }}
            as lf_code_rerequested,
        {{ flywheel.labeling_function(code, 'is_copied and not is_rerequested', 1) }}
            as lf_code_copied,
        {{ flywheel.labeling_function(code, 'is_followed_by_new_request and seconds_to_next_request >= ' ~ var('flywheel__read_seconds', 60), 1) }}
            as lf_code_read_then_moved_on,
        {{ flywheel.labeling_function(code, 'is_ignored and is_followed_by_new_request and seconds_to_next_request < ' ~ var('flywheel__skim_seconds', 20), 0) }}
            as lf_code_ignored_quickly,

        -- chat_response
        {{ flywheel.labeling_function(chat, 'is_copied and not is_rephrased', 1) }}
            as lf_chat_copied,
        {{ flywheel.labeling_function(chat, 'is_rephrased and not is_copied', 0) }}
            as lf_chat_rephrased,
        {{ flywheel.labeling_function(chat, 'is_rephrased and not is_copied and seconds_to_next_request <= 30', 0) }}
            as lf_chat_rephrased_quickly,
        {{ flywheel.labeling_function(chat, 'is_session_abandoned', 0) }}
            as lf_chat_abandoned,
        {{ flywheel.labeling_function(chat, 'is_topic_repeated and not is_copied', 0) }}
            as lf_chat_topic_repeated,
        {{ flywheel.labeling_function(chat, 'is_followed_by_new_request and seconds_to_next_request >= ' ~ var('flywheel__read_seconds', 60), 1) }}
            as lf_chat_read_then_moved_on,
        {{ flywheel.labeling_function(chat, 'is_followed_by_new_request and seconds_to_next_request >= ' ~ var('flywheel__long_read_seconds', 120), 1) }}
            as lf_chat_read_long,
        {{ flywheel.labeling_function(chat, 'is_followed_by_new_request and seconds_to_next_request < ' ~ var('flywheel__skim_seconds', 20) ~ ' and not is_copied', 0) }}
            as lf_chat_skimmed,

        -- search_result
        {{ flywheel.labeling_function(search, 'is_long_click and not is_rephrased', 1) }}
            as lf_search_long_click,
        {{ flywheel.labeling_function(search, 'is_clicked and not is_long_click and max_click_dwell_seconds < 10', 0) }}
            as lf_search_pogo_stick,
        {{ flywheel.labeling_function(search, 'first_click_position <= 2 and not is_rephrased', 1) }}
            as lf_search_top_result_clicked,
        {{ flywheel.labeling_function(search, 'first_click_position > 4', 0) }}
            as lf_search_deep_result_clicked,
        {{ flywheel.labeling_function(search, 'not is_clicked and is_rephrased', 0) }}
            as lf_search_no_click_rephrased,
        {{ flywheel.labeling_function(search, 'is_rephrased', 0) }}
            as lf_search_rephrased,
        {{ flywheel.labeling_function(search, 'is_session_abandoned', 0) }}
            as lf_search_abandoned,
        {{ flywheel.labeling_function(search, 'is_topic_repeated', 0) }}
            as lf_search_topic_repeated,
        {{ flywheel.labeling_function(search, 'is_copied', 1) }}
            as lf_search_copied,
        {{ flywheel.labeling_function(search, 'is_followed_by_new_request and seconds_to_next_request >= ' ~ var('flywheel__read_seconds', 60), 1) }}
            as lf_search_read_then_moved_on,
        {{ flywheel.labeling_function(search, 'is_followed_by_new_request and seconds_to_next_request < ' ~ var('flywheel__skim_seconds', 20) ~ ' and not is_clicked', 0) }}
            as lf_search_skimmed
    from signals
)

select * from votes
