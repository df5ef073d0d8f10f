{#-
    Parse a time that arrived as text into a UTC timestamp without time zone; null when it does
    not parse (never an error, so bad rows can be quarantined). ISO-8601 text with or without a
    UTC offset (text without one is UTC: the profile sets the session time zone to UTC); a
    number is epoch time, in seconds below 1e11 and in milliseconds above (what exporters
    write), within +/- 1e14 ms.
-#}
{% macro parse_utc_timestamp(text) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'flywheel')(text)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(text) -%}
    {{ flywheel.try_cast(text, api.Column.translate_type('timestamp')) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(text) -%}
    {%- set number = "try_cast(cast(" ~ text ~ " as varchar) as double)" -%}
    case
        when {{ number }} is null or not isfinite({{ number }})
            then timezone('UTC', try_cast(cast({{ text }} as varchar) as timestamptz))
        when abs({{ number }}) < 1e11 then timezone('UTC', to_timestamp({{ number }}))
        when abs({{ number }}) < 1e14 then timezone('UTC', to_timestamp({{ number }} / 1000.0))
    end
{%- endmacro %}

{% macro spark__parse_utc_timestamp(text) -%}
    {%- set number = "try_cast(cast(" ~ text ~ " as string) as double)" -%}
    case
        when {{ number }} is null or isnan({{ number }}) or abs({{ number }}) = double('infinity')
            then try_cast(cast({{ text }} as string) as timestamp)
        when abs({{ number }}) < 1e11 then timestamp_micros(cast(round({{ number }} * 1e6) as bigint))
        when abs({{ number }}) < 1e14 then timestamp_micros(cast(round({{ number }} * 1e3) as bigint))
    end
{%- endmacro %}
