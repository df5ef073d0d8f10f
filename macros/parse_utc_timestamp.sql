{#-
    Parse text (ISO-8601, with or without a UTC offset) into a UTC timestamp without time zone;
    null when it does not parse. Text without an offset is read as UTC (the profile sets the
    session time zone to UTC).
-#}
{% macro parse_utc_timestamp(text) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'flywheel')(text)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(text) -%}
    {{ dbt.safe_cast(text, api.Column.translate_type('timestamp')) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(text) -%}
    timezone('UTC', try_cast(cast({{ text }} as varchar) as timestamptz))
{%- endmacro %}
