{#- True when a timestamp is finite (DuckDB parses 'infinity' and '-infinity'). -#}
{% macro is_finite_timestamp(expression) -%}
    {{ return(adapter.dispatch('is_finite_timestamp', 'flywheel')(expression)) }}
{%- endmacro %}

{% macro default__is_finite_timestamp(expression) -%}
    ({{ expression }} is not null)
{%- endmacro %}

{% macro duckdb__is_finite_timestamp(expression) -%}
    isfinite({{ expression }})
{%- endmacro %}
