{#- A Jinja string as a SQL string literal: single quotes doubled, backslashes kept. -#}
{% macro sql_string(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}
