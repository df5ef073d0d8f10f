{#- The 64-bit floating point type (dbt.type_float() is 32-bit `float` on some adapters). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'flywheel')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}
