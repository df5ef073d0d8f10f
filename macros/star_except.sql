{#-
    Every column of `alias` but those named in `names` (a select list fragment). Dispatched
    per adapter.
-#}
{% macro star_except(alias, names) -%}
    {{ return(adapter.dispatch('star_except', 'flywheel')(alias, names)) }}
{%- endmacro %}

{% macro default__star_except(alias, names) -%}
    {{ return(flywheel.missing_implementation('star_except')) }}
{%- endmacro %}

{% macro duckdb__star_except(alias, names) -%}
    {{ alias }}.* exclude ({{ names | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(alias, names) -%}
    {{ alias }}.* except ({{ names | join(', ') }})
{%- endmacro %}
