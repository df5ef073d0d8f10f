{#-
    Fractional seconds from start_at to end_at (negative when end_at is earlier), a double, to
    the millisecond. Dispatched per adapter: the default divides dbt's cross-database
    millisecond datediff (in parentheses: some adapters' datediff is an expression that `/`
    would split).
-#}
{% macro seconds_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('seconds_between', 'flywheel')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__seconds_between(start_at, end_at) -%}
    (cast(({{ dbt.datediff(start_at, end_at, 'millisecond') }}) as {{ flywheel.type_double() }}) / 1000)
{%- endmacro %}

{% macro spark__seconds_between(start_at, end_at) -%}
    (cast(unix_millis({{ end_at }}) - unix_millis({{ start_at }}) as double) / 1000)
{%- endmacro %}
