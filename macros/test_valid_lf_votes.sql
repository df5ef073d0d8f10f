{#-
    Generic test on a votes table: every labeling-function column (name starts with `prefix`)
    is never null and only holds -1 (abstain), 0 (bad) or 1 (good). Fails with one row per
    offending (column, value) pair, and when the table has no LF column at all.
-#}
{% test valid_lf_votes(model, prefix='lf_') %}
    {%- set lf_names = flywheel.lf_columns(model, prefix) -%}
    {%- if lf_names %}
    {%- for lf in lf_names %}
    select '{{ lf }}' as lf_name, {{ lf }} as invalid_vote, count(*) as n_rows
    from {{ model }}
    where {{ lf }} is null or {{ lf }} not in (-1, 0, 1)
    group by {{ lf }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- else %}
    select 'no column starting with {{ prefix }}' as lf_name, null as invalid_vote, 0 as n_rows
    {%- endif %}
{% endtest %}
