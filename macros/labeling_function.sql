{#-
    One labeling-function vote: `vote` (1 good, 0 bad) on outputs of `label_task` where
    `condition` is true, else -1 (abstain). A null condition abstains.
-#}
{% macro labeling_function(label_task, condition, vote) -%}
    {%- if vote not in [0, 1] -%}
        {{ exceptions.raise_compiler_error("labeling_function: vote must be 1 (good) or 0 (bad), got " ~ vote) }}
    {%- endif -%}
    case when label_task = '{{ label_task }}' and ({{ condition }}) then {{ vote }} else -1 end
{%- endmacro %}
