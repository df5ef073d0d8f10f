{#- The distinct lowercase word tokens of a text, as an array. Dispatched per adapter. -#}
{% macro tokenize(text) -%}
    {{ return(adapter.dispatch('tokenize', 'flywheel')(text)) }}
{%- endmacro %}

{% macro default__tokenize(text) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.tokenize has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__tokenize macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__tokenize(text) -%}
    list_distinct(regexp_extract_all(lower({{ text }}), '[a-z0-9_]+'))
{%- endmacro %}
