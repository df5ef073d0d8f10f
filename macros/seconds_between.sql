{#- Fractional seconds from start_at to end_at (negative when end_at is earlier). -#}
{% macro seconds_between(start_at, end_at) -%}
    ({{ dbt.datediff(start_at, end_at, 'millisecond') }} / 1000.0)
{%- endmacro %}
