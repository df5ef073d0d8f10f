{#- One row per element of an array column (a select-list expression). Dispatched per adapter. -#}
{% macro unnest_array(array) -%}
    {{ return(adapter.dispatch('unnest_array', 'flywheel')(array)) }}
{%- endmacro %}

{% macro default__unnest_array(array) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.unnest_array has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__unnest_array macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__unnest_array(array) -%}
    unnest({{ array }})
{%- endmacro %}
