{#-
    The value of `value` on the first row of a group, in the order of the expressions
    `order_by` (a list; ties on all of them are the caller's to avoid): an aggregate, so a
    group's first row is found in one hash pass instead of a window sort over every row.
    Dispatched per adapter.
-#}
{% macro first_by(value, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'flywheel')(value, order_by)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.first_by has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__first_by macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__first_by(value, order_by) -%}
    arg_min({{ value }}, ({{ order_by | join(', ') }}))
{%- endmacro %}
