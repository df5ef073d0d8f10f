{#-
    The labeling-function columns (name starts with `prefix`) of a built relation, in column
    order. Empty at parse time (dbt only introspects during execution).
-#}
{% macro lf_columns(relation, prefix='lf_') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name.lower().startswith(prefix) -%}
            {%- do names.append(column.name.lower()) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
