{#- One row per element of an array column (a select-list expression). Dispatched per adapter. -#}
{% macro unnest_array(array) -%}
    {{ return(adapter.dispatch('unnest_array', 'flywheel')(array)) }}
{%- endmacro %}

{% macro default__unnest_array(array) -%}
    {{ return(flywheel.missing_implementation('unnest_array')) }}
{%- endmacro %}

{% macro duckdb__unnest_array(array) -%}
    unnest({{ array }})
{%- endmacro %}

{% macro spark__unnest_array(array) -%}
    explode({{ array }})
{%- endmacro %}

{#- The number of elements of an array (null for null). Dispatched per adapter. -#}
{% macro array_size(array) -%}
    {{ return(adapter.dispatch('array_size', 'flywheel')(array)) }}
{%- endmacro %}

{% macro default__array_size(array) -%}
    cardinality({{ array }})
{%- endmacro %}

{% macro duckdb__array_size(array) -%}
    len({{ array }})
{%- endmacro %}

{% macro spark__array_size(array) -%}
    size({{ array }})
{%- endmacro %}
