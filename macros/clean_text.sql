{#-
    Raw text with leading and trailing whitespace of every kind (spaces, tabs, newlines,
    vertical tabs, no-break and other Unicode spaces, byte order marks) removed; null when
    nothing is left. Ids, surfaces and event types go through it, so a
    tab or a newline is never an id.
-#}
{% macro clean_text(expression) -%}
    {{ return(adapter.dispatch('clean_text', 'flywheel')(expression)) }}
{%- endmacro %}

{% macro default__clean_text(expression) -%}
    {#- \s is ASCII in RE2: add vertical tab, next line and every Unicode separator (\pZ) -#}
    {%- set space = "[\\s\\x{0B}\\x{85}\\pZ\\x{FEFF}]" -%}
    nullif(regexp_replace(cast({{ expression }} as {{ dbt.type_string() }}), '^{{ space }}+|{{ space }}+$', '', 'g'), '')
{%- endmacro %}
