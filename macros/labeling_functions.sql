{#-
    THE labeling functions (LFs): the one place each LF is defined. Everything else derives from
    this list: the columns of fct_lf_votes (in this order), the lf_registry table the label job
    reads (which LF belongs to which task), int_lf_votes_long, lf_summary, drift_daily,
    probabilistic_labels and the valid_lf_votes test.

    An entry:
      name         the vote column, `lf_<task word>_<what it sees>` (unique, lowercase)
      label_task   the task it votes on (seed label_tasks); it abstains (-1) on other tasks
      vote         1 (the output is good) or 0 (bad), cast when `condition` is true
      condition    SQL over fct_output_signals columns; `{param}` is replaced by the value of
                   the entry's param of that name. A null condition abstains.
      params       every threshold the condition uses: a number, or var(...) when several LFs
                   share it. Override one without editing this file:
                   vars: {flywheel__lf_params: {lf_code_heavily_rewritten: {min_share_rewritten: 0.6}}}
      description  what it means, for the docs and lf_registry: the intuition, and its risks.

    LFs read off one event chain (accept -> edit -> revert) are kept mutually exclusive across
    polarities: the label model assumes LFs independent given the true label, and a good-vote LF
    that co-fires with a bad-vote LF by construction misleads it.
-#}
{% macro labeling_functions() -%}
    {%- set code = 'code_suggestion' -%}
    {%- set chat = 'chat_response' -%}
    {%- set search = 'search_result' -%}
    {%- set read_seconds = var('flywheel__read_seconds') -%}
    {%- set long_read_seconds = var('flywheel__long_read_seconds') -%}
    {%- set skim_seconds = var('flywheel__skim_seconds') -%}
    {%- set kept = 'is_accepted and coalesce(reverted_after_seconds > {retention_seconds}, true)' -%}
{{ return([

    {'name': 'lf_code_accepted_retained_10m', 'label_task': code, 'vote': 1,
     'condition': kept ~ ' and coalesce(share_rewritten, 0) <= {max_share_rewritten}',
     'params': {'retention_seconds': 600, 'max_share_rewritten': 0.5},
     'description': 'Accepted and not reverted within retention_seconds (10 minutes: the mission\'s example), and not heavily rewritten, so it never co-fires with lf_code_heavily_rewritten.'},

    {'name': 'lf_code_heavily_rewritten', 'label_task': code, 'vote': 0,
     'condition': 'share_rewritten > {min_share_rewritten}',
     'params': {'min_share_rewritten': 0.5},
     'description': 'More than min_share_rewritten (50%) of the accepted code rewritten (the mission\'s example): a starting point at best.'},

    {'name': 'lf_code_lightly_edited', 'label_task': code, 'vote': 1,
     'condition': 'share_rewritten <= {max_share_rewritten} and ' ~ kept,
     'params': {'max_share_rewritten': 0.2, 'retention_seconds': 600},
     'description': 'Accepted, at most max_share_rewritten (20%) rewritten, and kept retention_seconds (10 minutes): small touch-ups only.'},

    {'name': 'lf_code_reverted_within_2m', 'label_task': code, 'vote': 0,
     'condition': 'reverted_after_seconds <= {within_seconds}',
     'params': {'within_seconds': 120},
     'description': 'Accepted, then reverted or deleted within within_seconds (2 minutes): tried and thrown away.'},

    {'name': 'lf_code_reverted_within_10m', 'label_task': code, 'vote': 0,
     'condition': 'reverted_after_seconds <= {within_seconds}',
     'params': {'within_seconds': 600},
     'description': 'Accepted, then reverted within within_seconds (10 minutes; broader and noisier than 2 minutes).'},

    {'name': 'lf_code_rejected', 'label_task': code, 'vote': 0,
     'condition': 'is_rejected',
     'params': {},
     'description': 'Explicitly dismissed and never accepted.'},

    {'name': 'lf_code_quick_accept', 'label_task': code, 'vote': 1,
     'condition': 'dwell_seconds <= {max_dwell_seconds} and ' ~ kept ~ ' and coalesce(share_rewritten, 0) <= {max_share_rewritten}',
     'params': {'max_dwell_seconds': var('flywheel__quick_accept_seconds'), 'retention_seconds': 600, 'max_share_rewritten': 0.5},
     'description': 'Accepted within max_dwell_seconds (flywheel__quick_accept_seconds, 2 s) and kept clean: right at a glance.'},

    {'name': 'lf_code_rerequested', 'label_task': code, 'vote': 0,
     'condition': 'is_rerequested',
     'params': {},
     'description': 'A similar, modified prompt within flywheel__rerequest_window_seconds (60 s): the user asked again.'},

    {'name': 'lf_code_copied', 'label_task': code, 'vote': 1,
     'condition': 'is_copied and not is_rerequested',
     'params': {},
     'description': 'The suggestion was copied, and the prompt not asked again.'},

    {'name': 'lf_code_read_then_moved_on', 'label_task': code, 'vote': 1,
     'condition': 'is_followed_by_new_request and seconds_to_next_request >= {min_seconds}',
     'params': {'min_seconds': read_seconds},
     'description': 'The next request, about something else, came after min_seconds (flywheel__read_seconds, 60 s): the output was used.'},

    {'name': 'lf_code_ignored_quickly', 'label_task': code, 'vote': 0,
     'condition': 'is_ignored and is_followed_by_new_request and seconds_to_next_request < {max_seconds}',
     'params': {'max_seconds': skim_seconds},
     'description': 'Neither accepted nor rejected, and a new, unrelated request within max_seconds (flywheel__skim_seconds, 20 s).'},

    {'name': 'lf_chat_copied', 'label_task': chat, 'vote': 1,
     'condition': 'is_copied and not is_rephrased',
     'params': {},
     'description': 'The answer was copied and not rephrased: the user took something away.'},

    {'name': 'lf_chat_rephrased', 'label_task': chat, 'vote': 0,
     'condition': 'is_rephrased and not is_copied',
     'params': {},
     'description': 'The next request of the session rephrases this one (and nothing was copied): the answer missed.'},

    {'name': 'lf_chat_rephrased_quickly', 'label_task': chat, 'vote': 0,
     'condition': 'is_rephrased and not is_copied and seconds_to_next_request <= {max_seconds}',
     'params': {'max_seconds': 30},
     'description': 'Rephrased within max_seconds (30 s): missed at a glance.'},

    {'name': 'lf_chat_abandoned', 'label_task': chat, 'vote': 0,
     'condition': 'is_session_abandoned',
     'params': {},
     'description': 'The session ended on this answer with no copy. Weak: satisfied users leave too; its accuracy is below 0.5 on a good-heavy task, and the label model learns its real weight where a majority vote cannot.'},

    {'name': 'lf_chat_topic_repeated', 'label_task': chat, 'vote': 0,
     'condition': 'is_topic_repeated and not is_copied',
     'params': {},
     'description': 'The same topic asked again hours later (nothing copied): the answer did not stick.'},

    {'name': 'lf_chat_read_then_moved_on', 'label_task': chat, 'vote': 1,
     'condition': 'is_followed_by_new_request and seconds_to_next_request >= {min_seconds}',
     'params': {'min_seconds': read_seconds},
     'description': 'Moved on to a new topic after min_seconds (flywheel__read_seconds, 60 s): read, then moved on.'},

    {'name': 'lf_chat_read_long', 'label_task': chat, 'vote': 1,
     'condition': 'is_followed_by_new_request and seconds_to_next_request >= {min_seconds}',
     'params': {'min_seconds': long_read_seconds},
     'description': 'The next, unrelated request came after min_seconds (flywheel__long_read_seconds, 120 s): read closely. Nested in lf_chat_read_then_moved_on on purpose: the label model learns how much more a long read says.'},

    {'name': 'lf_chat_skimmed', 'label_task': chat, 'vote': 0,
     'condition': 'is_followed_by_new_request and seconds_to_next_request < {max_seconds} and not is_copied',
     'params': {'max_seconds': skim_seconds},
     'description': 'A new, unrelated request within max_seconds (flywheel__skim_seconds, 20 s), nothing copied: skimmed and dropped.'},

    {'name': 'lf_search_long_click', 'label_task': search, 'vote': 1,
     'condition': 'is_long_click and not is_rephrased',
     'params': {},
     'description': 'A click with dwell of at least flywheel__long_click_dwell_seconds (30 s), query not rephrased: the page satisfied.'},

    {'name': 'lf_search_pogo_stick', 'label_task': search, 'vote': 0,
     'condition': 'is_clicked and not is_long_click and max_click_dwell_seconds < {max_dwell_seconds}',
     'params': {'max_dwell_seconds': 10},
     'description': 'Clicked, but back within max_dwell_seconds (10 s) on every click: the results disappointed.'},

    {'name': 'lf_search_top_result_clicked', 'label_task': search, 'vote': 1,
     'condition': 'first_click_position <= {max_position} and not is_rephrased',
     'params': {'max_position': 2},
     'description': 'The first click was in the top max_position (2), query not rephrased. Clicks follow position: check it against gold where rank bias is strong.'},

    {'name': 'lf_search_deep_result_clicked', 'label_task': search, 'vote': 0,
     'condition': 'first_click_position > {min_position}',
     'params': {'min_position': 4},
     'description': 'The first click was below position min_position (4): the ranking was poor.'},

    {'name': 'lf_search_no_click_rephrased', 'label_task': search, 'vote': 0,
     'condition': 'not is_clicked and is_rephrased',
     'params': {},
     'description': 'No click, and the next query rephrases this one.'},

    {'name': 'lf_search_rephrased', 'label_task': search, 'vote': 0,
     'condition': 'is_rephrased',
     'params': {},
     'description': 'The next query rephrases this one. In exploratory search reformulating is normal: check it against gold.'},

    {'name': 'lf_search_abandoned', 'label_task': search, 'vote': 0,
     'condition': 'is_session_abandoned',
     'params': {},
     'description': 'The session ended on this result list with no click.'},

    {'name': 'lf_search_topic_repeated', 'label_task': search, 'vote': 0,
     'condition': 'is_topic_repeated',
     'params': {},
     'description': 'The same topic searched again hours later.'},

    {'name': 'lf_search_copied', 'label_task': search, 'vote': 1,
     'condition': 'is_copied',
     'params': {},
     'description': 'Something from the results was copied.'},

    {'name': 'lf_search_read_then_moved_on', 'label_task': search, 'vote': 1,
     'condition': 'is_followed_by_new_request and seconds_to_next_request >= {min_seconds}',
     'params': {'min_seconds': read_seconds},
     'description': 'The next, unrelated query came after min_seconds (flywheel__read_seconds, 60 s).'},

    {'name': 'lf_search_skimmed', 'label_task': search, 'vote': 0,
     'condition': 'is_followed_by_new_request and seconds_to_next_request < {max_seconds} and not is_clicked',
     'params': {'max_seconds': skim_seconds},
     'description': 'No click and a new, unrelated query within max_seconds (flywheel__skim_seconds, 20 s).'},

]) }}
{%- endmacro %}
