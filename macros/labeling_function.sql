{#-
    One labeling function's vote, from an entry of `lf_definitions()`: its `vote` (1 good,
    0 bad) on outputs of its `label_task` where its condition is true, else -1 (abstain). A null
    condition abstains.
-#}
{% macro labeling_function(lf) -%}
    case when label_task = '{{ lf.label_task }}' and ({{ lf.condition_sql }}) then {{ lf.vote }} else -1 end
{%- endmacro %}
