{#-
    Generic test on fct_lf_votes: every labeling function of `lf_definitions()` is a column that
    is never null and holds only -1 (abstain) or the LF's own vote (1 good / 0 bad), and only on
    its own task's outputs. Fails with one row per offending (LF, vote) pair.
-#}
{% test valid_lf_votes(model) %}
    {%- set lfs = flywheel.lf_definitions() %}
    {%- for lf in lfs %}
    select
        '{{ lf.name }}' as lf_name,
        {{ lf.name }} as invalid_vote,
        count(*) as n_rows
    from {{ model }}
    where {{ lf.name }} is null
        or {{ lf.name }} not in (-1, {{ lf.vote }})
        or ({{ lf.name }} != -1 and label_task != '{{ lf.label_task }}')
    group by {{ lf.name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endtest %}
