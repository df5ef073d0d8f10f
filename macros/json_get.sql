{#- The value at top-level key `key` of a JSON object held as text, as text (null if absent). -#}
{% macro json_get(json_text, key) -%}
    {{ return(adapter.dispatch('json_get', 'flywheel')(json_text, key)) }}
{%- endmacro %}

{% macro default__json_get(json_text, key) -%}
    json_extract_path_text({{ json_text }}, '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_get(json_text, key) -%}
    json_extract_string({{ json_text }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_get(json_text, key) -%}
    get_json_object({{ json_text }}, '$.{{ key }}')
{%- endmacro %}
