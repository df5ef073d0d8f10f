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
    {{ return(flywheel.missing_implementation('first_by')) }}
{%- endmacro %}

{% macro duckdb__first_by(value, order_by) -%}
    arg_min({{ value }}, ({{ order_by | join(', ') }}))
{%- endmacro %}

{% macro spark__first_by(value, order_by) -%}
    min_by({{ value }}, struct({{ order_by | join(', ') }}))
{%- endmacro %}
