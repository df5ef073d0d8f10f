{#-
    Every column of `alias` but those named in `names` (a select list fragment). Dispatched
    per adapter.
-#}
{% macro star_except(alias, names) -%}
    {{ return(adapter.dispatch('star_except', 'flywheel')(alias, names)) }}
{%- endmacro %}

{% macro default__star_except(alias, names) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.star_except has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__star_except macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__star_except(alias, names) -%}
    {{ alias }}.* exclude ({{ names | join(', ') }})
{%- endmacro %}
