{#-
    Raw text with leading and trailing whitespace of every kind (spaces, tabs, newlines)
    removed; null when nothing is left. Ids, surfaces and event types go through it, so a
    tab or a newline is never an id.
-#}
{% macro clean_text(expression) -%}
    {{ return(adapter.dispatch('clean_text', 'flywheel')(expression)) }}
{%- endmacro %}

{% macro default__clean_text(expression) -%}
    nullif(regexp_replace(cast({{ expression }} as {{ dbt.type_string() }}), '^\s+|\s+$', '', 'g'), '')
{%- endmacro %}
