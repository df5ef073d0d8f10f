{#- The distinct lowercase word tokens of a text, as an array. Dispatched per adapter. -#}
{% macro tokenize(text) -%}
    {{ return(adapter.dispatch('tokenize', 'flywheel')(text)) }}
{%- endmacro %}

{% macro default__tokenize(text) -%}
    {{ return(flywheel.missing_implementation('tokenize')) }}
{%- endmacro %}

{% macro duckdb__tokenize(text) -%}
    list_distinct(regexp_extract_all(lower({{ text }}), '[a-z0-9_]+'))
{%- endmacro %}

{% macro spark__tokenize(text) -%}
    array_distinct(regexp_extract_all(lower({{ text }}), '([a-z0-9_]+)', 1))
{%- endmacro %}
