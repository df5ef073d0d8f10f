{#-
    Cast that cannot fail: null where the value does not convert. Every value that comes from
    the raw events goes through it, so a bad value is a quarantine row, never a failed build.
    (dbt.safe_cast compiles to a plain cast on dbt-duckdb.)
-#}
{% macro try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'flywheel')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
