{#- A window in seconds as a column-name suffix: 30 -> '30s', 120 -> '2m', 3600 -> '1h'. -#}
{% macro window_label(seconds) -%}
    {%- set s = seconds | int -%}
    {%- if s % 3600 == 0 -%}{{ s // 3600 }}h
    {%- elif s % 60 == 0 -%}{{ s // 60 }}m
    {%- else -%}{{ s }}s
    {%- endif -%}
{%- endmacro %}
